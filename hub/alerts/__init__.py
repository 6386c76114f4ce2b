"""The alert engine: events become alerts, alerts become pages, people close them.

`AlertEngine` is the one entry point; it composes the parts, each a module by role:

| module | role |
|---|---|
| `rules` | which rule turns an event kind into an alert (organisation, site, resident layers) |
| `records` | the lifecycle, the audit of every change, silences; the clock |
| `intake` | events in: open, group, recover; unknown homes, the hub's alerts, mass outages |
| `escalation` | who is paged and when: the chain by the rota, reminders, service levels, desk |
| `delivery` | what a page says and its links; delivery on each channel, timeouts, retries |
| `ownership` | which hub runs an alert (a lease) and sends a page (a claim), hubs sharing a store |

Sites, homes, people and the rota are read from the database rows (`hub.db`), never from the
config file: the engine's config is the service's own settings (`ServiceSettings`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bedwatch.kinds import AlertRule
from hub.alerts.delivery import MAX_PAGE_ATTEMPTS, REASON_TEXT, Dispatch, Messages
from hub.alerts.escalation import DESK_LEVEL, DOCTOR_LEVEL, Escalation
from hub.alerts.intake import Intake
from hub.alerts.ownership import Ownership
from hub.alerts.records import (
    ACTIVE_STATES,
    RESOLUTIONS,
    STATES,
    Clock,
    Records,
    SystemClock,
    TransitionError,
)
from hub.alerts.rules import Rules
from hub.config import ServiceSettings
from hub.db import Alert, Caregiver, Silence
from hub.pager import Notifier

__all__ = ["ACTIVE_STATES", "DESK_LEVEL", "DOCTOR_LEVEL", "MAX_PAGE_ATTEMPTS", "REASON_TEXT",
           "RESOLUTIONS", "STATES", "AlertEngine", "Clock", "SystemClock", "TransitionError"]


class AlertEngine:
    """Open, group, page, escalate, remind and close alerts; every change is audited."""

    def __init__(self, sessions: sessionmaker[Session], notifier: Notifier, *, secret: str,
                 public_url: str, clock: Clock | None = None,
                 ack_link_ttl_s: float = 24 * 3600,
                 config: ServiceSettings | None = None, owner: str = "hub") -> None:
        self.sessions = sessions
        self.clock = clock or SystemClock()
        self.config = config or ServiceSettings()
        # `owner` names this hub among those sharing the store (its MQTT client id).
        self.ownership = Ownership(owner, self.config.alert_lease_s)
        self.counters = {"alerts_opened": 0, "events_grouped": 0, "pages_sent": 0,
                         "delivery_failures": 0, "escalations": 0, "reminders": 0,
                         "sla_ack_breaches": 0, "sla_arrival_breaches": 0}
        self.records = Records(self.config, self.clock)
        self.rules = Rules(self.config)
        self.escalation = Escalation(self.config, self.clock, self.records, self.counters)
        self.intake = Intake(self.config, self.clock, self.records, self.rules,
                             self.escalation, self.counters, self.ownership)
        self.messages = Messages(self.config, self.clock, secret=secret, public_url=public_url,
                                 ack_link_ttl_s=ack_link_ttl_s)
        self.dispatch = Dispatch(sessions, notifier, self.config, self.clock, self.records,
                                 self.messages, self.intake, self.counters, self.ownership)

    @property
    def notifier(self) -> Notifier:
        """The seam every page goes out through."""
        return self.dispatch.notifier

    @property
    def secret(self) -> str:
        """The key that signs the links in pages."""
        return self.messages.secret

    @property
    def public_url(self) -> str:
        return self.messages.public_url

    @property
    def ack_link_ttl_s(self) -> float:
        return self.messages.ack_link_ttl_s

    # -- rules and registry ----------------------------------------------------------------

    def rule_for(self, home: str, kind: str,
                 session: Session | None = None) -> AlertRule | None:
        """Return the rule for an event kind in a home: organisation, site, resident layers."""
        if session is not None:
            return self.rules.rule_for(session, home, kind)
        with self.sessions() as own:
            return self.rules.rule_for(own, home, kind)

    def silenced(self, session: Session, home: str, now: float) -> Silence | None:
        """Return the silence in force for a home, if any."""
        return self.records.silenced(session, home, now)

    def organisation_people(self, session: Session, role: str) -> list[Caregiver]:
        """Return the active desk (`desk`) or technicians (`technician`), with stand-ins."""
        return self.escalation.organisation_people(session, role)

    def recipients(self, session: Session, alert: Alert, level: int) -> list[Caregiver]:
        """Return who is paged at an escalation level of an alert, by the rota at this time."""
        return self.escalation.recipients(session, alert, level)

    # -- events in -------------------------------------------------------------------------

    def on_event(self, session: Session, home: str, kind: str, device: str, t: float,
                 data: dict[str, Any] | None = None) -> Alert | None:
        """Apply one stored event; return the alert it opened or joined (None: no alert)."""
        return self.intake.on_event(session, home, kind, device, t, data)

    def note_unknown_home(self, session: Session, home: str, source: str) -> Alert | None:
        """Raise `unknown_home` (once per home while open) when a home is not registered."""
        return self.intake.note_unknown_home(session, home, source)

    def raise_hub_alert(self, session: Session, kind: str, since: float,
                        data: dict[str, Any] | None = None, *, device: str = "hub") -> Alert:
        """Open (or join) an alert about the hub itself; it pages the technicians."""
        return self.intake.raise_hub_alert(session, kind, since, data, device=device)

    def active_hub_alert(self, session: Session, kind: str,
                         device: str | None = None) -> Alert | None:
        """Return the unresolved alert of a kind about the hub itself, if any."""
        return self.intake.active_hub_alert(session, kind, device)

    def resolve_hub_alert(self, session: Session, kind: str, what: str,
                          device: str | None = None) -> Alert | None:
        """Resolve the hub's alert of a kind on recovery, with how long the outage lasted."""
        return self.intake.resolve_hub_alert(session, kind, what, device)

    # -- timers and pages ------------------------------------------------------------------

    def tick(self) -> None:
        """Escalate, remind, check service levels and settle recovered alerts that are due,
        of the alerts this hub owns (renewing its leases, taking over lapsed ones first)."""
        now = self.clock.now()
        with self.sessions() as session:
            self.ownership.upkeep(session, self.records, now, self.dispatch.delivering)
            session.commit()
        with self.sessions() as session:
            # Row locks held to the commit: a hub taking an alert over waits for this tick.
            for alert in session.scalars(self.ownership.due_alerts(now,
                                                                   self.config.flap_hold_s)):
                if alert.recovered_at is not None and \
                        now - alert.recovered_at >= self.config.flap_hold_s:
                    self.intake.auto_resolve(session, alert, now, "device back")
                elif alert.paging:
                    self.escalation.on_tick(session, alert, now)
            self.intake.settle_outage(session)
            session.commit()

    async def process_due_pages(self) -> int:
        """Deliver every page that is due; return how many were sent."""
        return await self.dispatch.process_due_pages()

    def ack_link(self, alert_id: int, caregiver_id: str) -> str:
        """Return the signed one-tap acknowledge link of a caregiver for an alert."""
        return self.messages.ack_link(alert_id, caregiver_id)

    def desk_link(self, caregiver_id: str) -> str:
        """Return the signed link to a caregiver's page of open alerts."""
        return self.messages.desk_link(caregiver_id)

    def compose(self, session: Session, alert: Alert, caregiver: Caregiver,
                reason: str = "alert") -> tuple[str, str]:
        """Return the title and body of a page: who, where, what, since when, and the link."""
        return self.messages.compose(session, alert, caregiver, reason)

    # -- people act ------------------------------------------------------------------------

    def transition(self, alert_id: int, to: str, actor: str, *, resolution: str | None = None,
                   note: str | None = None) -> Alert:
        """Move an alert forward in its lifecycle; raise TransitionError if not allowed."""
        with self.sessions() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise KeyError(alert_id)
            self.records.set_state(session, alert, to, actor, self.clock.now(),
                                   resolution=resolution, note=note)
            session.commit()
            return alert

    def silence(self, home: str, by: str, duration_s: float, reason: str) -> Silence:
        """Hold a home's pages for a stated time (a caregiver is on site); audited."""
        with self.sessions() as session:
            entry = self.records.silence(session, home, by, duration_s, reason)
            session.commit()
            return entry
