"""The record of an alert: its lifecycle, the audit of every change, and silences.

Lifecycle: open → acknowledged → on_site → resolved, forward only, with who and when at each
step. Every record is stamped by an injected clock, so tests advance time instead of waiting.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import desk_points
from hub.config import ServiceSettings
from hub.db import Alert, AuditEntry, Home, Page, Silence

log = logging.getLogger(__name__)

STATES = ("open", "acknowledged", "on_site", "resolved")
# Details of an audit entry that are safe in a log: no notes (they may name people).
_LOGGED_DETAILS = ("from", "level", "role", "resolution", "reason", "caregiver")
ACTIVE_STATES = ("open", "acknowledged", "on_site")
RESOLUTIONS = ("real", "false_alarm", "test", "resolved_remotely", "auto")


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class TransitionError(ValueError):
    """A state change that the lifecycle does not allow."""


def page_still_wanted(page: Page, alert: Alert | None) -> bool:
    """Return True when a pending page still has a reason to go out in the alert's state."""
    if alert is None:
        return False
    if page.reason == "doctor":
        return True
    if page.reason == "sla_arrival":
        return alert.state in ("open", "acknowledged")
    # Everything else (the alert, reminders, escalation, sla_ack) stops at acknowledgement.
    return alert.state == "open"


class Records:
    """Change an alert's state and keep the audit; hold and look up silences."""

    def __init__(self, config: ServiceSettings, clock: Clock) -> None:
        self.config = config
        self.clock = clock

    def audit(self, session: Session, actor: str, action: str, alert: Alert,
              detail: dict[str, Any]) -> None:
        """Add an audit entry about an alert (details that are None are left out), and log
        it at INFO by ids only: the log never holds a name, an address or a note."""
        logged = " ".join(f"{k}={detail[k]}" for k in _LOGGED_DETAILS
                          if detail.get(k) is not None)
        log.info("alert #%s (%s, %s) %s by %s%s", alert.id, alert.kind, alert.home or "hub",
                 action, actor, f" ({logged})" if logged else "")
        session.add(AuditEntry(at=self.clock.now(), actor=actor, action=action,
                               alert_id=alert.id, home=alert.home,
                               detail={k: v for k, v in detail.items() if v is not None}))
        desk_points.note_alert_change(session, alert, action, self.clock.now(), detail)

    def set_state(self, session: Session, alert: Alert, to: str, actor: str, now: float, *,
                  resolution: str | None = None, note: str | None = None) -> None:
        """Move an alert forward; cancel the pending pages it no longer wants; audit it."""
        if to not in STATES:
            raise TransitionError(f"unknown state {to!r}")
        if STATES.index(to) <= STATES.index(alert.state):
            raise TransitionError(f"alert #{alert.id} is already {alert.state}")
        if to == "resolved" and resolution is not None and resolution not in RESOLUTIONS:
            raise TransitionError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        if alert.acknowledged_at is None:
            alert.acknowledged_by, alert.acknowledged_at = actor, now
        if to == "on_site" or (to == "resolved" and alert.on_site_at is None
                               and actor != "system"):
            alert.on_site_by, alert.on_site_at = actor, now
        if to == "resolved":
            alert.resolved_by, alert.resolved_at = actor, now
            alert.resolution, alert.resolution_note = resolution, note
        previous = alert.state
        alert.state = to
        for page in session.scalars(select(Page).where(Page.alert_id == alert.id,
                                                       Page.state == "pending")):
            if not page_still_wanted(page, alert):
                page.state = "cancelled"
        self.audit(session, actor, to, alert, {"from": previous, "resolution": resolution,
                                               "note": note})

    def silenced(self, session: Session, home: str, now: float) -> Silence | None:
        """Return the silence in force for a home, if any."""
        return session.scalars(select(Silence).where(Silence.home == home, Silence.start <= now,
                                                     Silence.end > now)).first()

    def silence(self, session: Session, home: str, by: str, duration_s: float,
                reason: str) -> Silence:
        """Hold a registered home's pages for a stated time (bounded); audited."""
        if not 0 < duration_s <= self.config.max_silence_s:
            raise TransitionError(f"a silence lasts 1 s to {self.config.max_silence_s:.0f} s")
        now = self.clock.now()
        if session.get(Home, home) is None:
            raise KeyError(home)
        entry = Silence(home=home, by=by, start=now, end=now + duration_s, reason=reason)
        session.add(entry)
        session.add(AuditEntry(at=now, actor=by, action="silenced", alert_id=None, home=home,
                               detail={"until": now + duration_s, "reason": reason}))
        return entry
