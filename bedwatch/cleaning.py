"""Text and free-form evidence made safe to store, show and encode again.

Part of the wire contract (`bedwatch/wire.py`, `docs/protocol.md`): every number within int64,
every text valid Unicode without NUL, and evidence bounded in depth and size.
"""

from __future__ import annotations

import math
import re
from typing import Any

# Bounds of every number on the wire: what SQLite, PostgreSQL and InfluxDB store as int64.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Free-form evidence (`Event.data`, `Command.args`): how deep, how many values, how long a string.
MAX_DATA_DEPTH = 6
MAX_DATA_ITEMS = 256
MAX_DATA_LIST = 64
MAX_DATA_STRING = 1024

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def clean_text(value: str, max_length: int = MAX_DATA_STRING) -> str:
    """Return text that every store and every JSON encoder accepts.

    Lone surrogates (valid in JSON escapes, invalid in UTF-8) become U+FFFD, NUL is dropped
    (PostgreSQL refuses it in text) and the length is capped.
    """
    if len(value) > max_length:
        value = value[:max_length]
    if value.isascii():
        return value.replace("\x00", "")
    return _SURROGATE_RE.sub("\ufffd", value).replace("\x00", "")


def _no_surrogates(value: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("text is not valid Unicode (lone surrogate)") from exc
    if "\x00" in value:
        raise ValueError("text contains NUL")
    return value


def clean_data(value: Any) -> dict[str, Any]:
    """Return free-form evidence made safe to store, show and encode again.

    A life-safety event must never be refused for what rides along in its evidence, so
    instead of rejecting, this cleans: text as `clean_text`, numbers outside int64 or not
    finite become null, nesting deeper than MAX_DATA_DEPTH and values past MAX_DATA_ITEMS are
    cut (and any one object or list past MAX_DATA_LIST). What was changed is listed under
    the key `_cleaned`.
    """
    notes: list[str] = []
    budget = [MAX_DATA_ITEMS]

    def walk(item: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            return None
        if item is None or isinstance(item, bool):
            return item
        if isinstance(item, int):
            if INT64_MIN <= item <= INT64_MAX:
                return item
            notes.append("int64")
            return None
        if isinstance(item, float):
            if math.isfinite(item):
                return item
            notes.append("finite")
            return None
        if isinstance(item, str):
            cleaned = clean_text(item)
            if cleaned != item:
                notes.append("text")
            return cleaned
        if depth >= MAX_DATA_DEPTH:
            notes.append("depth")
            return None
        if isinstance(item, dict):
            out: dict[str, Any] = {}
            for n, (key, sub) in enumerate(item.items()):
                if budget[0] <= 0 or n >= MAX_DATA_LIST:
                    notes.append("items")
                    break
                out[clean_text(str(key), 64)] = walk(sub, depth + 1)
            return out
        if isinstance(item, (list, tuple)):
            items = []
            for n, sub in enumerate(item):
                if budget[0] <= 0 or n >= MAX_DATA_LIST:
                    notes.append("items")
                    break
                items.append(walk(sub, depth + 1))
            return items
        notes.append("type")
        return clean_text(repr(item), 64)

    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    out = walk(value, 0)
    out.pop("_cleaned", None)
    if notes:
        out["_cleaned"] = sorted(set(notes))
    return out
