"""InfluxDB line protocol for readings, formatted without building a `Point` per reading.

The output is byte for byte what `influxdb_client.Point(...).to_line_protocol()` gives for the
same point (tests/hub/test_lineprotocol.py proves it for every reading the wire contract
admits): tags and fields sorted by key, the escapes of InfluxDB's line protocol (measurement:
comma and space; tag keys and values, field keys: comma, equals sign and space; string values:
double quote and backslash; Point also writes tab, CR and LF as `\\t`, `\\r`, `\\n` in names),
floats as Python's shortest repr without a trailing `.0`, integers with `i`, booleans as
`true`/`false`, and the time in integer nanoseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from bedwatch import wire

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t",
                      "\r": r"\r"})
_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})

# Series and field names repeat across readings: escape each once. Bounded so that a stream
# of distinct names cannot grow them without end.
_CACHE_LIMIT = 100_000
_series: dict[tuple[str, str, str], str] = {}
_keys: dict[str, str] = {}


def _tag_value(value: str) -> str:
    escaped = value.translate(_KEY)
    # A value ending in a backslash would escape the separator after it.
    return escaped + " " if escaped.endswith("\\") else escaped


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """Return `measurement,tag=value,... ` (tags sorted, empty ones left out, a space last)."""
    parts = [measurement.translate(_MEASUREMENT)]
    for key, value in sorted(tags.items()):
        key, value = key.translate(_KEY), _tag_value(value)
        if key and value:
            parts.append(f"{key}={value}")
    return ",".join(parts) + " "


def field_value(value: bool | int | float | str) -> str | None:
    """Return one field value as line protocol, or None for a float InfluxDB cannot hold."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    return '"' + value.translate(_STRING) + '"'


def field_key(name: str) -> str:
    """Return a field name escaped as line protocol."""
    escaped = _keys.get(name)
    if escaped is None:
        if len(_keys) >= _CACHE_LIMIT:
            _keys.clear()
        escaped = _keys[name] = name.translate(_KEY)
    return escaped


def reading_line(home: str, reading: wire.Reading) -> str:
    """Return the line of one reading: measurement `kind`, tags `home` and `device`, its fields
    (every number as a float, so that 60 and 60.5 in one field never conflict), time in ns."""
    series = (reading.kind, home, reading.device)
    prefix = _series.get(series)
    if prefix is None:
        if len(_series) >= _CACHE_LIMIT:
            _series.clear()
        prefix = _series[series] = series_key(reading.kind,
                                              {"home": home, "device": reading.device})
    values = reading.fields
    fields = []
    for name in sorted(values):
        value = values[name]
        key = _keys.get(name) or field_key(name)
        kind = type(value)
        if kind is float or kind is int:  # the common case, inline
            number = repr(float(value))
            if number[-2:] == ".0":
                number = number[:-2]
            elif number[-1] in "fn":  # inf, nan: Point leaves the field out
                continue
            fields.append(f"{key}={number}")
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        text = field_value(value)
        if text is not None:
            fields.append(f"{key}={text}")
    if not fields:
        return ""
    return f"{prefix}{','.join(fields)} {round(reading.t * 1e9)}"


def reading_lines(home: str, readings: Iterable[wire.Reading]) -> list[str]:
    """Return the lines of a home's readings, in order."""
    return [reading_line(home, reading) for reading in readings]


# Measured values repeat (a heart rate is one of a few dozen numbers): format each once. Zero
# is left out, as 0.0 and -0.0 are equal keys with different texts.
_numbers: dict[float, str | None] = {}


def _number(value: float) -> str | None:
    text: str | None = repr(value)
    assert text is not None
    if text[-2:] == ".0":
        text = text[:-2]
    elif text[-1] in "fn":  # inf, nan: Point leaves the field out
        text = None
    if value:
        if len(_numbers) >= _CACHE_LIMIT:
            _numbers.clear()
        _numbers[value] = text
    return text


def row_lines(home: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the lines of a home's readings given as rows (`bedwatch.wire.BatchRows`), in
    order: the same text as `reading_line` for the same readings, without a model each."""
    series, keys, numbers = _series, _keys, _numbers
    out = []
    for row in rows:
        kind, device = row["kind"], row["device"]
        prefix = series.get((kind, home, device))
        if prefix is None:
            if len(series) >= _CACHE_LIMIT:
                series.clear()
            prefix = series[(kind, home, device)] = series_key(
                kind, {"home": home, "device": device})
        values = row["fields"]
        fields = []
        for name in sorted(values) if len(values) > 1 else values:
            value = values[name]
            key = keys.get(name) or field_key(name)
            kind_of = type(value)
            if kind_of is float or kind_of is int:
                value = float(value)
                text = numbers.get(value) if value else None
                if text is None:
                    text = _number(value)
                    if text is None:
                        continue
                fields.append(key + "=" + text)
                continue
            if kind_of is not bool and isinstance(value, int):
                value = float(value)
            text = field_value(value)
            if text is not None:
                fields.append(key + "=" + text)
        if fields:
            out.append(f"{prefix}{','.join(fields)} {round(row['t'] * 1e9)}")
    return out
