"""What `bedwatch hub check` finds in the registry before a real page does: contacts whose
channels cannot deliver, people nobody can reach, stations without a backup, and times in the
coming week when nobody is on call (docs/registry.md, "Checks").

Findings are data, so the command prints them and the API could serve them.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.channels import channel_problems, person_label
from hub.db import Caregiver, RotaOverride, RotaShift, Site
from hub.migrations import current, head
from hub.registry.access import ORG_SITE_ID
from hub.registry_file import DAYS
from hub.rota import on_duty, shift_covers

WEEK_S = 7 * 86400.0
Level = Literal["error", "warning"]
Kind = Literal["bad_channel", "no_working_channel", "no_backup", "rota_gap"]


@dataclass(frozen=True)
class Finding:
    """One problem of the registry: an error stops `hub check`, a warning is shown."""

    level: Level
    kind: Kind
    subject: str  # the id of the person or site it is about
    message: str


def check_registry(session: Session, now: float, horizon_s: float = WEEK_S) -> list[Finding]:
    """Return the findings of the registry's active people and sites, errors first; the rota
    is read from `now` (UTC seconds) for `horizon_s` (a week)."""
    findings = _people(session)
    sites = session.scalars(select(Site).where(Site.active, Site.id != ORG_SITE_ID)
                            .order_by(Site.id))
    for site in sites:
        findings += _site(session, site, now, now + horizon_s)
    return sorted(findings, key=lambda f: f.level != "error")


def _people(session: Session) -> list[Finding]:
    findings = []
    for person in session.scalars(select(Caregiver).where(Caregiver.active)
                                  .order_by(Caregiver.id)):
        who = person_label(person.id, person.name)
        urls = list(person.notify or [])
        problems = channel_problems(urls)
        findings += [Finding("error", "bad_channel", person.id,
                             f"{who}: notify[{i}] '{shown}' cannot deliver: {reason}")
                     for i, shown, reason in problems]
        if len(problems) == len(urls):
            why = "no channel at all" if not urls else "none of their channels can deliver"
            place = person.home_id or person.site_id
            place = "the organisation" if place == ORG_SITE_ID else place
            findings.append(Finding("warning", "no_working_channel", person.id,
                                    f"{who}, {person.role} of {place}, has no working channel "
                                    f"({why}): they cannot be paged"))
    return findings


def _site(session: Session, site: Site, start: float, end: float) -> list[Finding]:
    roles = {step.get("role") for step in site.escalation or []}
    label = f"site {site.id!r} ({site.name})"
    findings = []
    if "backup" in roles and not _has_backup(session, site.id, start, end):
        findings.append(Finding(
            "warning", "no_backup", site.id,
            f"{label} has no backup: nobody has the standing role backup and the rota names "
            "no backup in the coming week, so an alert nobody acknowledges skips that step"))
    if "oncall" in roles:
        findings += _rota_gaps(session, site, start, end)
    return findings


def _has_backup(session: Session, site_id: str, start: float, end: float) -> bool:
    active = select(Caregiver.id).where(Caregiver.active)
    standing = session.scalars(select(Caregiver.id).where(
        Caregiver.site_id == site_id, Caregiver.role == "backup", Caregiver.home_id.is_(None),
        Caregiver.active)).first()
    shift = session.scalars(select(RotaShift.id).where(
        RotaShift.site_id == site_id, RotaShift.role == "backup",
        RotaShift.caregiver_id.in_(active))).first()
    override = session.scalars(select(RotaOverride.id).where(
        RotaOverride.site_id == site_id, RotaOverride.role == "backup",
        RotaOverride.start_at < end, RotaOverride.end_at > start,
        RotaOverride.caregiver_id.in_(active))).first()
    return any(x is not None for x in (standing, shift, override))


def _rota_gaps(session: Session, site: Site, start: float, end: float) -> list[Finding]:
    """Return a finding for each stretch between `start` and `end` when the engine would find
    nobody on call, or only the standing on-call because no shift or override covers it."""
    zone = ZoneInfo(site.timezone)
    shifts = list(session.scalars(select(RotaShift).where(
        RotaShift.site_id == site.id, RotaShift.role == "oncall")))
    overrides = list(session.scalars(select(RotaOverride).where(
        RotaOverride.site_id == site.id, RotaOverride.role == "oncall",
        RotaOverride.start_at < end, RotaOverride.end_at > start)))
    active = set(session.scalars(select(Caregiver.id).where(Caregiver.active)))
    # Who is on duty changes only where a shift or an override begins or ends.
    points = sorted({start, end} | {t for t in _boundaries(shifts, overrides, zone, start, end)
                                    if start < t < end})
    stretches: list[tuple[float, float, str, tuple[str, ...]]] = []
    for at, until in pairwise(points):
        with _quiet_rota():
            duty = tuple(on_duty(session, site.id, "oncall", at))
        local = datetime.fromtimestamp(at, zone)
        covered = any(o.caregiver_id in active and o.start_at <= at < o.end_at
                      for o in overrides) or \
            any(s.caregiver_id in active and shift_covers(s, local) for s in shifts)
        state = "nobody" if not duty else ("" if covered or not (shifts or overrides)
                                           else "standing")
        if stretches and stretches[-1][2] == state and stretches[-1][1] == at:
            stretches[-1] = (stretches[-1][0], until, state, duty)
        else:
            stretches.append((at, until, state, duty))
    findings = []
    label = f"site {site.id!r} ({site.name})"
    for begin, stop, state, duty in stretches:
        later = " or later" if stop >= end else ""  # the week checked ends there
        span = f"from {_local(begin, zone)} to {_local(stop, zone)}{later} ({site.timezone})"
        if state == "nobody":
            findings.append(Finding("warning", "rota_gap", site.id,
                                    f"{label}: nobody is on call {span}; alerts then go "
                                    "straight to the next step of the chain"))
        elif state == "standing":
            findings.append(Finding("warning", "rota_gap", site.id,
                                    f"{label}: no shift or override has anyone on call {span}; "
                                    f"the standing on-call ({', '.join(duty)}) are paged"))
    return findings


def _boundaries(shifts: list[RotaShift], overrides: list[RotaOverride], zone: ZoneInfo,
                start: float, end: float) -> list[float]:
    """Return the instants at which shifts and overrides begin and end around [start, end]."""
    times = [t for o in overrides for t in (o.start_at, o.end_at)]
    first = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, zone).date()
    day = first
    while day <= last:
        for shift in shifts:
            if DAYS[day.weekday()] not in shift.days:
                continue
            begin, finish = _hhmm(shift.start), _hhmm(shift.end)
            times.append(datetime.combine(day, begin, zone).timestamp())
            # A shift whose end is not after its start runs over midnight.
            end_day = day if begin < finish else day + timedelta(days=1)
            times.append(datetime.combine(end_day, finish, zone).timestamp())
        day += timedelta(days=1)
    return times


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _local(at: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, zone).strftime("%a %Y-%m-%d %H:%M")


_checking = contextvars.ContextVar("checking", default=False)


class _QuietRota(logging.Filter):
    """Keep the engine's "no one on shift" warning out of a check: the finding says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _checking.get()


logging.getLogger("hub.rota").addFilter(_QuietRota())


@contextmanager
def _quiet_rota() -> Iterator[None]:
    token = _checking.set(True)
    try:
        yield
    finally:
        _checking.reset(token)


def check_database(url: str, now: float) -> tuple[list[Finding], str | None]:
    """Return the findings of the registry in the database at `url`, read only (nothing is
    created or upgraded), or why it could not be read."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or not Path(path).exists():
            return [], f"no database at {path or url} yet: the registry is not checked"
    connect_args = {"connect_timeout": 5} if parsed.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, connect_args=connect_args)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            stamped = current(connection)
        if stamped != (head(),):
            revision = ", ".join(stamped) or "(none)"
            return [], (f"the database {shown} is at schema revision {revision}, not "
                        f"{head()}: start the hub once to upgrade it, then check again; the "
                        "registry is not checked")
        with Session(engine) as session:
            return check_registry(session, now), None
    except SQLAlchemyError as exc:
        return [], f"cannot read the database {shown} ({type(exc).__name__}): the registry is " \
                   "not checked"
    finally:
        engine.dispose()
