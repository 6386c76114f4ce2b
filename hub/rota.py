"""Who is on duty: weekly shifts, one-off overrides, and each caregiver's standing role.

Pure functions of the config and a time, so hand-over at the end of a shift is tested by
asking about two instants, not by waiting.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.config import DAYS, HubConfig, OverrideSection, ShiftSection

log = logging.getLogger(__name__)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def shift_covers(shift: ShiftSection, local: datetime) -> bool:
    """Return True when the shift is running at the local time `local`."""
    start, end = _hhmm(shift.start), _hhmm(shift.end)
    now = local.time()
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    if start < end:
        return today in shift.days and start <= now < end
    # Over midnight: the evening part on a listed day, the morning part on the day after.
    return (today in shift.days and now >= start) or (yesterday in shift.days and now < end)


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def override_covers(override: OverrideSection, at: datetime, zone: ZoneInfo) -> bool:
    return _aware(override.start, zone) <= at < _aware(override.end, zone)


def on_duty(config: HubConfig, site_id: str, role: str, at: float) -> list[str]:
    """Return the ids of the caregivers who have `role` at `site_id` at UTC time `at`.

    Overrides win over shifts; shifts win over standing roles. A gap in the rota falls back
    to the caregivers whose standing role it is: a page must never go to nobody.
    """
    site = next(s for s in config.sites if s.id == site_id)
    zone = ZoneInfo(site.timezone)
    instant = datetime.fromtimestamp(at, UTC)
    overrides = [o.caregiver for o in config.overrides
                 if o.site == site_id and o.role == role and override_covers(o, instant, zone)]
    if overrides:
        return sorted(set(overrides))
    shifts = [s for s in config.shifts if s.site == site_id and s.role == role]
    local = instant.astimezone(zone)
    on_shift = sorted({s.caregiver for s in shifts if shift_covers(s, local)})
    if on_shift:
        return on_shift
    standing = sorted(c.id for c in config.caregivers if c.site == site_id and c.role == role)
    if shifts:
        log.warning("no %s on shift at %s for site %s; paging the standing %s: %s", role,
                    local.isoformat(timespec="minutes"), site_id, role, standing)
    return standing
