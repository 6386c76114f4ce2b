"""The hub's own line-protocol formatter writes exactly what `influxdb_client.Point` writes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from bedwatch import wire
from hub.lineprotocol import field_key, field_value, reading_line, series_key

ids = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,63}\Z")
names = st.from_regex(r"\A[a-z][a-z0-9_]{0,47}\Z")
edge_numbers = st.sampled_from([0, 1, -1, wire.INT64_MAX, wire.INT64_MIN, 2**53 + 1, 0.0, -0.0,
                                1e-7, 1e16, 1.5e300, 5e-324, 123456789.125, 60.0, 60.5])
values = (st.booleans() | st.integers(wire.INT64_MIN, wire.INT64_MAX) | edge_numbers
          | st.floats(allow_nan=False, allow_infinity=False)
          | st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                    max_size=256))
readings = st.builds(
    wire.Reading, device=ids, kind=names,
    t=st.floats(wire.MIN_PLAUSIBLE_T, wire.MAX_PLAUSIBLE_T)
    | st.sampled_from([wire.MIN_PLAUSIBLE_T, wire.MAX_PLAUSIBLE_T, 1_764_000_000.123456789]),
    fields=st.dictionaries(names, values, min_size=1, max_size=64))


def point_line(home: str, reading: wire.Reading) -> str:
    """The reference: the reading built with Point, as hub/influx.py did before."""
    point = Point(reading.kind).tag("home", home).tag("device", reading.device)
    for name, value in reading.fields.items():
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        point = point.field(name, value)
    return str(point.time(round(reading.t * 1e9), WritePrecision.NS).to_line_protocol())


@settings(max_examples=400, deadline=None)
@given(ids, readings)
def test_every_reading_the_contract_admits_is_formatted_as_point_formats_it(
        home: str, reading: wire.Reading) -> None:
    """Proves: the fast formatter is byte-equal to Point for any valid reading."""
    # Through the wire too: what the hub formats is what decode returned.
    batch = wire.ReadingBatch(agent=home, seq=1, readings=[reading])
    _, _, _, decoded = wire.decode(wire.readings_topic(home), wire.encode(batch))
    assert isinstance(decoded, wire.ReadingBatch)
    [again] = decoded.readings
    assert reading_line(home, again) == point_line(home, again)
    assert reading_line(home, reading) == point_line(home, reading)


keys = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)


@settings(max_examples=400, deadline=None)
@given(keys.filter(lambda m: not m.startswith("#")),
       st.dictionaries(keys, keys, max_size=4),
       st.dictionaries(keys.filter(bool), values, min_size=1, max_size=4))
def test_escaping_matches_point_for_any_names(measurement: str, tags: dict[str, str],
                                              fields: dict[str, object]) -> None:
    """Proves: escapes of measurement, tag keys and values, field keys and strings (commas,
    spaces, equals signs, quotes, backslashes, control characters) are Point's."""
    point = Point(measurement)
    for key, value in tags.items():
        point = point.tag(key, value)
    for key, value in fields.items():
        point = point.field(key, value)
    expected = point.time(1_764_000_000_000_000_000, WritePrecision.NS).to_line_protocol()
    formatted = [f"{field_key(k)}={v}"
                 for k, value in sorted(fields.items())
                 if (v := field_value(value)) is not None]  # type: ignore[arg-type]
    ours = series_key(measurement, tags) + ",".join(formatted) + " 1764000000000000000"
    assert ours == expected
