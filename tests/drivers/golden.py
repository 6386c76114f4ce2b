"""Golden cases: `cases/<case>/input.hex` in, `expected.json` (items and counters) out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.items import DeviceEvent, DeviceHealth, DriverItem, Observation


def cases(test_file: str) -> list[Path]:
    """Return the case folders beside a test module."""
    return sorted((Path(test_file).parent / "cases").iterdir())


def describe(item: DriverItem) -> dict[str, Any]:
    """Return the JSON form an expected.json lists items in."""
    if isinstance(item, DeviceEvent):
        return {"item": "event", "kind": item.kind, "data": item.data}
    if isinstance(item, Observation):
        return {"item": "reading", "kind": item.kind, "fields": item.fields}
    if isinstance(item, DeviceHealth):
        return {"item": "health", "connected": item.connected}
    raise AssertionError(f"unexpected item {item!r}")
