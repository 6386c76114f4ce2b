"""Who is on duty: weekly shifts, one-off overrides, and each caregiver's standing role.

Read from the registry rows at the moment of asking, so hand-over at the end of a shift is
tested by asking about two instants, not by waiting, and a changed rota counts at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import Caregiver, RotaOverride, RotaShift, Site
from hub.registry_file import DAYS

log = logging.getLogger(__name__)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def shift_covers(shift: RotaShift, local: datetime) -> bool:
    """Return True when the shift is running at the local time `local`."""
    start, end = _hhmm(shift.start), _hhmm(shift.end)
    now = local.time()
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    if start < end:
        return today in shift.days and start <= now < end
    # Over midnight: the evening part on a listed day, the morning part on the day after.
    return (today in shift.days and now >= start) or (yesterday in shift.days and now < end)


def on_duty(session: Session, site_id: str, role: str, at: float) -> list[str]:
    """Return the ids of the caregivers who have `role` at `site_id` at UTC time `at`.

    Overrides win over shifts; shifts win over standing roles. A gap in the rota falls back
    to the caregivers whose standing role it is: a page must never go to nobody. Only active
    caregivers count, so a rota entry of someone who left leaves a gap, not a dead end.
    """
    site = session.get(Site, site_id)
    if site is None:
        raise KeyError(site_id)
    active = select(Caregiver.id).where(Caregiver.active)
    overrides = session.scalars(select(RotaOverride.caregiver_id).where(
        RotaOverride.site_id == site_id, RotaOverride.role == role,
        RotaOverride.start_at <= at, RotaOverride.end_at > at,
        RotaOverride.caregiver_id.in_(active)))
    found = sorted(set(overrides))
    if found:
        return found
    shifts = list(session.scalars(select(RotaShift).where(
        RotaShift.site_id == site_id, RotaShift.role == role)))
    local = datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(site.timezone))
    on_shift = sorted(set(session.scalars(select(Caregiver.id).where(
        Caregiver.id.in_([s.caregiver_id for s in shifts if shift_covers(s, local)]),
        Caregiver.active))))
    if on_shift:
        return on_shift
    standing = sorted(session.scalars(select(Caregiver.id).where(
        Caregiver.site_id == site_id, Caregiver.role == role, Caregiver.home_id.is_(None),
        Caregiver.active)))
    if shifts:
        log.warning("no %s on shift at %s for site %s; paging the standing %s: %s", role,
                    local.isoformat(timespec="minutes"), site_id, role, standing)
    return standing
