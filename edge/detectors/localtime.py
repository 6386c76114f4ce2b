"""The resident's local time, for the detectors that judge by the hour (night, daytime,
bedtime): one IANA time zone for all of them, so daylight saving is right where it applies."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Shanghai"


def zone(name: str) -> ZoneInfo:
    """Return the time zone called `name`; raise ValueError for a name that is not one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. {DEFAULT_TIMEZONE!r})"
                         ) from exc


DEFAULT_ZONE = zone(DEFAULT_TIMEZONE)


def local(t: float, tz: tzinfo) -> datetime:
    """Return UTC time `t` as local time in `tz`."""
    return datetime.fromtimestamp(t, tz)
