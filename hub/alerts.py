"""The alert engine: events become alerts, alerts become pages, people close them.

Lifecycle: open → acknowledged → on_site → resolved, with who and when at each step.
Life-safety alerts never auto-resolve. The same kind from the same home (and device, for
device alerts) while an alert is open adds to it instead of paging again. Time comes from
an injected clock so escalation is tested by advancing time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bedwatch import wire
from hub import tokens
from hub.db import Alert, AuditEntry, Caregiver, Delivery, Home, Page, Site
from hub.pager import Notifier

log = logging.getLogger(__name__)

STATES = ("open", "acknowledged", "on_site", "resolved")
ACTIVE_STATES = ("open", "acknowledged", "on_site")
RESOLUTIONS = ("real", "false_alarm", "test", "resolved_remotely", "auto")
MAX_PAGE_ATTEMPTS = 12


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass(frozen=True)
class AlertRule:
    """How an event kind becomes an alert."""

    severity: str
    page: bool = True
    group_by_device: bool = False
    resolved_by: frozenset[str] = frozenset()  # event kinds that auto-resolve it


_DEVICE_BACK = frozenset({"device_recovered"})
RULES: dict[str, AlertRule] = {
    **{kind: AlertRule("critical") for kind in sorted(wire.LIFE_SAFETY_KINDS)},
    "agent_offline": AlertRule("high", resolved_by=frozenset({"agent_online"})),
    "device_silent": AlertRule("high", group_by_device=True, resolved_by=_DEVICE_BACK),
    "bp_crisis": AlertRule("high"),
    "bradycardia": AlertRule("high"),
    "tachycardia": AlertRule("high"),
    "bradypnea": AlertRule("high"),
    "tachypnea": AlertRule("high"),
    "device_fault": AlertRule("low", page=False, group_by_device=True, resolved_by=_DEVICE_BACK),
    "low_battery": AlertRule("low", page=False, group_by_device=True),
    "trend": AlertRule("low", page=False),
    "reposition_due": AlertRule("low", page=False),
}

KIND_TEXT = {
    "call": "Call button pressed",
    "fall": "Fall detected",
    "long_lie": "Lying on the floor for a long time",
    "apnea": "Breathing stopped",
    "not_returned": "Got up in the night and did not return to bed",
    "agent_offline": "Home unit offline",
    "device_silent": "A device has gone silent",
    "device_fault": "Device fault",
    "low_battery": "Low battery",
}


class TransitionError(ValueError):
    """A state change that the lifecycle does not allow."""


class AlertEngine:
    """Open, group, page and close alerts; every change is audited."""

    def __init__(self, sessions: sessionmaker[Session], notifier: Notifier, *, secret: str,
                 public_url: str, clock: Clock | None = None,
                 ack_link_ttl_s: float = 24 * 3600) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.secret = secret
        self.public_url = public_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.ack_link_ttl_s = ack_link_ttl_s
        self.counters = {"alerts_opened": 0, "events_grouped": 0, "pages_sent": 0,
                         "delivery_failures": 0}

    # -- events in ---------------------------------------------------------------------------

    def on_event(self, session: Session, home: str, kind: str, device: str, t: float,
                 data: dict[str, Any] | None = None) -> Alert | None:
        """Apply one stored event; return the alert it opened or joined (None: no alert)."""
        now = self.clock.now()
        self._auto_resolve(session, home, kind, device, now)
        rule = RULES.get(kind)
        if rule is None:
            return None
        group_device = device if rule.group_by_device else ""
        alert = session.scalars(
            select(Alert).where(Alert.home == home, Alert.kind == kind,
                                Alert.device == group_device,
                                Alert.state.in_(ACTIVE_STATES))
            .order_by(Alert.id.desc()).limit(1)).first()
        if alert is not None:
            alert.event_count += 1
            alert.last_event_at = now
            self.counters["events_grouped"] += 1
            self._audit(session, "system", "grouped", alert, {"device": device, "t": t})
            return alert
        alert = Alert(home=home, device=group_device, kind=kind, severity=rule.severity,
                      state="open", opened_at=now, first_event_t=t, last_event_at=now,
                      event_count=1, data={"device": device, **(data or {})})
        session.add(alert)
        session.flush()
        self.counters["alerts_opened"] += 1
        self._audit(session, "system", "opened", alert, {"device": device, "t": t})
        if rule.page:
            self._schedule_pages(session, alert, now)
        return alert

    def _auto_resolve(self, session: Session, home: str, kind: str, device: str,
                      now: float) -> None:
        for alert_kind, rule in RULES.items():
            if kind not in rule.resolved_by or alert_kind in wire.LIFE_SAFETY_KINDS:
                continue
            query = select(Alert).where(Alert.home == home, Alert.kind == alert_kind,
                                        Alert.state.in_(ACTIVE_STATES))
            if rule.group_by_device:
                query = query.where(Alert.device == device)
            for alert in session.scalars(query):
                self._set_state(session, alert, "resolved", "system", now,
                                resolution="auto", note=f"{kind} received")

    # -- paging ------------------------------------------------------------------------------

    def recipients(self, session: Session, alert: Alert) -> list[Caregiver]:
        """Return who is paged first for an alert: the on-call caregivers of the home's site."""
        home = session.get(Home, alert.home)
        if home is None:
            log.error("alert %s for unregistered home %s: nobody to page", alert.id, alert.home)
            return []
        return list(session.scalars(
            select(Caregiver).where(Caregiver.site_id == home.site_id,
                                    Caregiver.role == "oncall", Caregiver.active)
            .order_by(Caregiver.id)))

    def _schedule_pages(self, session: Session, alert: Alert, now: float) -> None:
        for caregiver in self.recipients(session, alert):
            session.add(Page(alert_id=alert.id, caregiver_id=caregiver.id, level=0,
                             state="pending", created_at=now, next_attempt_at=now))

    def ack_link(self, alert_id: int, caregiver_id: str) -> str:
        """Return the signed one-tap acknowledge link of a caregiver for an alert."""
        grant = tokens.AckGrant(alert_id, caregiver_id, self.clock.now() + self.ack_link_ttl_s)
        return f"{self.public_url}/ack/{tokens.sign(self.secret, grant)}"

    def compose(self, session: Session, alert: Alert, caregiver: Caregiver) -> tuple[str, str]:
        """Return the title and body of a page: who, where, what, since when, and the link."""
        home = session.get(Home, alert.home)
        site = session.get(Site, home.site_id) if home else None
        resident = home.resident_name if home else "unknown resident"
        since_utc = datetime.fromtimestamp(alert.first_event_t, UTC)
        local = since_utc.astimezone(ZoneInfo(site.timezone)) if site else since_utc
        what = KIND_TEXT.get(alert.kind, alert.kind.replace("_", " "))
        device = alert.data.get("device", "")
        title = f"[{alert.severity.upper()}] {what}: {resident}, {alert.home}"
        lines = [
            f"What: {what} (device {device}, alert #{alert.id})",
            f"Who: {resident}",
            f"Where: {alert.home}" + (f", {home.address}" if home and home.address else ""),
            f"Since: {local:%Y-%m-%d %H:%M:%S} local ({since_utc:%H:%M:%S} UTC)",
        ]
        if alert.event_count > 1:
            lines.append(f"Repeated: {alert.event_count} times")
        lines.append(f"Acknowledge: {self.ack_link(alert.id, caregiver.id)}")
        return title, "\n".join(lines)

    async def process_due_pages(self) -> int:
        """Deliver every page that is due; return how many were sent."""
        now = self.clock.now()
        sent = 0
        with self.sessions() as session:
            due = list(session.scalars(
                select(Page).where(Page.state == "pending", Page.next_attempt_at <= now)
                .order_by(Page.id)))
            for page in due:
                alert = session.get(Alert, page.alert_id)
                caregiver = session.get(Caregiver, page.caregiver_id)
                if alert is None or caregiver is None or alert.state != "open":
                    page.state = "cancelled"
                    continue
                title, body = self.compose(session, alert, caregiver)
                delivered = False
                for url in caregiver.notify:  # fall through the channels in order
                    result = await self.notifier.deliver(url, title, body)
                    session.add(Delivery(page_id=page.id, alert_id=alert.id,
                                         caregiver_id=caregiver.id, channel=result.channel,
                                         ok=result.ok, error=result.error, at=self.clock.now()))
                    if result.ok:
                        delivered = True
                        break
                    self.counters["delivery_failures"] += 1
                page.attempts += 1
                if delivered:
                    page.state, page.sent_at = "sent", self.clock.now()
                    sent += 1
                    self.counters["pages_sent"] += 1
                    self._audit(session, "system", "paged", alert,
                                {"caregiver": caregiver.id, "attempt": page.attempts})
                elif page.attempts >= MAX_PAGE_ATTEMPTS:
                    page.state = "failed"
                    self._audit(session, "system", "page_failed", alert,
                                {"caregiver": caregiver.id, "attempts": page.attempts})
                else:
                    page.next_attempt_at = now + min(5.0 * 2 ** (page.attempts - 1), 300.0)
                session.commit()  # each page's outcome is kept even if a later one fails
            session.commit()
        return sent

    # -- people act --------------------------------------------------------------------------

    def transition(self, alert_id: int, to: str, actor: str, *, resolution: str | None = None,
                   note: str | None = None) -> Alert:
        """Move an alert forward in its lifecycle; raise TransitionError if not allowed."""
        with self.sessions() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise KeyError(alert_id)
            self._set_state(session, alert, to, actor, self.clock.now(), resolution=resolution,
                            note=note)
            session.commit()
            return alert

    def _set_state(self, session: Session, alert: Alert, to: str, actor: str, now: float, *,
                   resolution: str | None = None, note: str | None = None) -> None:
        if to not in STATES:
            raise TransitionError(f"unknown state {to!r}")
        if STATES.index(to) <= STATES.index(alert.state):
            raise TransitionError(f"alert #{alert.id} is already {alert.state}")
        if to == "resolved" and resolution is not None and resolution not in RESOLUTIONS:
            raise TransitionError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        if to in ("acknowledged", "on_site", "resolved") and alert.acknowledged_at is None:
            alert.acknowledged_by, alert.acknowledged_at = actor, now
        if to == "on_site":
            alert.on_site_by, alert.on_site_at = actor, now
        if to == "resolved":
            alert.resolved_by, alert.resolved_at = actor, now
            alert.resolution, alert.resolution_note = resolution, note
        previous = alert.state
        alert.state = to
        for page in session.scalars(select(Page).where(Page.alert_id == alert.id,
                                                       Page.state == "pending")):
            page.state = "cancelled"
        self._audit(session, actor, to, alert, {"from": previous, "resolution": resolution,
                                                "note": note})

    def _audit(self, session: Session, actor: str, action: str, alert: Alert,
               detail: dict[str, Any]) -> None:
        session.add(AuditEntry(at=self.clock.now(), actor=actor, action=action,
                               alert_id=alert.id, home=alert.home,
                               detail={k: v for k, v in detail.items() if v is not None}))
