"""The alert engine: events become alerts, alerts become pages, people close them.

Lifecycle: open → acknowledged → on_site → resolved, with who and when at each step.
Life-safety alerts never auto-resolve. The same kind from the same home (and device, for
device alerts) while an alert is open adds to it instead of paging again. Time comes from
an injected clock so escalation is tested by advancing time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bedwatch import wire
from bedwatch.kinds import RULES, AlertRule, kind_text
from hub import tokens
from hub.config import HubConfig, RuleOverride, SiteSection
from hub.db import Alert, AuditEntry, Caregiver, Delivery, Home, Page, Silence, Site
from hub.pager import DeliveryResult, Notifier, redact
from hub.registry import HUB_HOME
from hub.rota import on_duty
from hub.watchdog import is_mass_outage

log = logging.getLogger(__name__)

STATES = ("open", "acknowledged", "on_site", "resolved")
ACTIVE_STATES = ("open", "acknowledged", "on_site")
RESOLUTIONS = ("real", "false_alarm", "test", "resolved_remotely", "auto")
MAX_PAGE_ATTEMPTS = 12
# Page levels outside the site's chain: the resident's doctor, and the organisation's desk.
DOCTOR_LEVEL = -1
DESK_LEVEL = -2


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


REASON_TEXT = {
    "alert": "",
    "reminder": "[REMINDER] ",
    "escalation": "[ESCALATED] ",
    "sla_ack": "[NOT ACKNOWLEDGED IN TIME] ",
    "sla_arrival": "[NOBODY ON SITE IN TIME] ",
    "doctor": "[FOR THE DOCTOR] ",
    "silence_end": "[AFTER SILENCE] ",
}
# Pages of these reasons stop once somebody has acknowledged the alert.
_UNTIL_ACK = frozenset({"alert", "reminder", "escalation", "sla_ack", "silence_end"})


class TransitionError(ValueError):
    """A state change that the lifecycle does not allow."""


def _override(rule: AlertRule | None, override: RuleOverride | None) -> AlertRule | None:
    if override is None:
        return rule
    base = rule or AlertRule(override.severity or "low")
    changes = {k: v for k, v in override.model_dump().items() if v is not None}
    # Saying anything about a kind that is off by default (bed_exit) means wanting it.
    changes.setdefault("enabled", True)
    return replace(base, **changes)


class AlertEngine:
    """Open, group, page, escalate, remind and close alerts; every change is audited."""

    def __init__(self, sessions: sessionmaker[Session], notifier: Notifier, *, secret: str,
                 public_url: str, clock: Clock | None = None,
                 ack_link_ttl_s: float = 24 * 3600, config: HubConfig | None = None) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.secret = secret
        self.public_url = public_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.ack_link_ttl_s = ack_link_ttl_s
        self.config = config or HubConfig()
        self.counters = {"alerts_opened": 0, "events_grouped": 0, "pages_sent": 0,
                         "delivery_failures": 0, "escalations": 0, "reminders": 0,
                         "sla_ack_breaches": 0, "sla_arrival_breaches": 0}

    # -- rules and places ----------------------------------------------------------------------

    def rule_for(self, home: str, kind: str) -> AlertRule | None:
        """Return the rule for an event kind in a home: organisation, site, resident layers."""
        rule = _override(RULES.get(kind), self.config.rules.get(kind))
        home_cfg = next((h for h in self.config.homes if h.id == home), None)
        if home_cfg is not None:
            site = next(s for s in self.config.sites if s.id == home_cfg.site)
            rule = _override(rule, site.rules.get(kind))
            rule = _override(rule, home_cfg.resident.rules.get(kind))
        return rule if rule is not None and rule.enabled else None

    def _site(self, session: Session, home: str) -> tuple[Site | None, SiteSection | None]:
        row = session.get(Home, home)
        if row is None:
            return None, None
        return (session.get(Site, row.site_id),
                next((s for s in self.config.sites if s.id == row.site_id), None))

    def silenced(self, session: Session, home: str, now: float) -> Silence | None:
        """Return the silence in force for a home, if any."""
        return session.scalars(select(Silence).where(Silence.home == home, Silence.start <= now,
                                                     Silence.end > now)).first()

    # -- events in -------------------------------------------------------------------------------

    def on_event(self, session: Session, home: str, kind: str, device: str, t: float,
                 data: dict[str, Any] | None = None) -> Alert | None:
        """Apply one stored event; return the alert it opened or joined (None: no alert)."""
        now = self.clock.now()
        if kind != "unknown_home":
            self.note_unknown_home(session, home, device)
        self._recovered(session, home, kind, device, now)
        rule = self.rule_for(home, kind)
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
            alert.recovered_at = None  # flapping: held open, not fired again
            self.counters["events_grouped"] += 1
            self._audit(session, "system", "grouped", alert, {"device": device, "t": t})
            return alert
        alert = Alert(home=home, device=group_device, kind=kind, severity=rule.severity,
                      state="open", opened_at=now, first_event_t=t, last_event_at=now,
                      event_count=1, data={"device": device, **(data or {})},
                      paging=rule.page, level=0)
        site_row, site_cfg = self._site(session, home)
        if rule.page and site_row is not None and site_cfg is not None:
            steps = site_cfg.escalation
            alert.ack_due_at = now + site_row.ack_target_s
            if rule.severity == "critical":
                alert.arrival_due_at = now + site_row.arrival_target_s
            alert.next_reminder_at = now + site_cfg.reminder_every_s
            alert.next_escalation_at = now + steps[1].after_s if len(steps) > 1 else None
        elif rule.page:
            # No site answers it (an unregistered home, the hub itself): the organisation does.
            alert.next_reminder_at = now + self.config.organisation.reminder_every_s
        session.add(alert)
        session.flush()
        self.counters["alerts_opened"] += 1
        self._audit(session, "system", "opened", alert, {"device": device, "t": t})
        if rule.notify_doctor:
            self._page_people(session, alert, self._doctors(session, home), "doctor", now,
                              level=DOCTOR_LEVEL)
        if not alert.paging:
            return alert
        if not self._page_level(session, alert, 0, "alert", now):
            self._skip_empty_level(alert, now)
            self._escalate(session, alert, now)
        if rule.notify_desk and (site_cfg is not None or home == HUB_HOME) and \
                not (kind == "agent_offline" and self._group_outage(session, now)):
            self._page_level(session, alert, DESK_LEVEL, "alert", now)
        return alert

    def note_unknown_home(self, session: Session, home: str, source: str) -> Alert | None:
        """Raise `unknown_home` (once per home while open) when a home is not registered."""
        if home == HUB_HOME or session.get(Home, home) is not None:
            return None
        log.warning("message from unregistered home %s: paging the desk", home)
        return self.on_event(session, home, "unknown_home", source, self.clock.now(), {})

    # -- the hub's own alerts ----------------------------------------------------------------------

    def raise_hub_alert(self, session: Session, kind: str, since: float,
                        data: dict[str, Any] | None = None) -> Alert:
        """Open (or join) an alert about the hub itself; it pages the technicians."""
        alert = self.on_event(session, HUB_HOME, kind, "hub", since,
                              {"since": since, **(data or {})})
        assert alert is not None, f"{kind} has no rule"
        return alert

    def active_hub_alert(self, session: Session, kind: str) -> Alert | None:
        """Return the unresolved alert of a kind about the hub itself, if any."""
        return session.scalars(select(Alert).where(
            Alert.home == HUB_HOME, Alert.kind == kind, Alert.state.in_(ACTIVE_STATES))
            .order_by(Alert.id.desc()).limit(1)).first()

    def resolve_hub_alert(self, session: Session, kind: str, what: str) -> Alert | None:
        """Resolve the hub's alert of a kind on recovery, with how long the outage lasted."""
        alert = self.active_hub_alert(session, kind)
        if alert is None:
            return None
        now = self.clock.now()
        minutes = round((now - float(alert.data.get("since", alert.opened_at))) / 60, 1)
        alert.data = {**alert.data, "outage_minutes": minutes}
        self._set_state(session, alert, "resolved", "system", now, resolution="auto",
                        note=f"{what} after {minutes:g} min")
        return alert

    def _group_outage(self, session: Session, now: float) -> bool:
        """Fold homes gone offline together into one alert to the technicians.

        Return True when this outage is grouped: the desk is then not paged per home.
        """
        cfg = self.config.watchdog
        recent = list(session.scalars(select(Alert).where(
            Alert.kind == "agent_offline", Alert.state.in_(ACTIVE_STATES),
            Alert.recovered_at.is_(None), Alert.home != HUB_HOME,
            Alert.opened_at >= now - cfg.homes_offline_window_s)))
        homes = sorted({a.home for a in recent})
        total = session.scalar(select(func.count()).select_from(Home)) or 0
        group = self.active_hub_alert(session, "homes_offline_many")
        if group is None and not is_mass_outage(len(homes), total, cfg):
            return False
        if group is None:
            group = self.raise_hub_alert(session, "homes_offline_many",
                                         min(a.opened_at for a in recent))
        homes = sorted(set(group.data.get("homes", [])) | set(homes))
        group.data = {**group.data, "homes": homes, "homes_total": total}
        for alert in recent:
            alert.data = {**alert.data, "grouped_in": group.id}
            for page in session.scalars(select(Page).where(
                    Page.alert_id == alert.id, Page.level == DESK_LEVEL,
                    Page.state == "pending")):
                page.state = "cancelled"
        self._audit(session, "system", "homes_grouped", group, {"homes": homes})
        return True

    def _settle_outage(self, session: Session) -> None:
        group = self.active_hub_alert(session, "homes_offline_many")
        if group is None:
            return
        still = session.scalars(select(Alert.id).where(
            Alert.kind == "agent_offline", Alert.home.in_(group.data.get("homes", [])),
            Alert.state.in_(ACTIVE_STATES), Alert.recovered_at.is_(None))).first()
        if still is None:
            self.resolve_hub_alert(session, "homes_offline_many", "every home back online")

    def _person_unreachable(self, session: Session, person: Caregiver, now: float) -> None:
        alert = self.active_hub_alert(session, "pages_failing")
        if alert is not None and person.id in alert.data.get("people", []):
            return
        alert = self.raise_hub_alert(session, "pages_failing", now)
        alert.data = {**alert.data, "people": sorted({*alert.data.get("people", []),
                                                      person.id})}

    def _person_reachable(self, session: Session, person_id: str) -> None:
        alert = self.active_hub_alert(session, "pages_failing")
        if alert is None or person_id not in alert.data.get("people", []):
            return
        left = [p for p in alert.data.get("people", []) if p != person_id]
        alert.data = {**alert.data, "people": left}
        if not left:
            self.resolve_hub_alert(session, "pages_failing", "pages delivered again")

    def _recovered(self, session: Session, home: str, kind: str, device: str,
                   now: float) -> None:
        for alert_kind in RULES:
            rule = self.rule_for(home, alert_kind)
            if rule is None or kind not in rule.resolved_by:
                continue
            if alert_kind in wire.LIFE_SAFETY_KINDS:
                continue  # a person closes these, never a machine
            query = select(Alert).where(Alert.home == home, Alert.kind == alert_kind,
                                        Alert.state.in_(ACTIVE_STATES))
            if rule.group_by_device:
                query = query.where(Alert.device == device)
            for alert in session.scalars(query):
                if self.config.flap_hold_s <= 0:
                    alert.recovered_at = now
                    self._auto_resolve(session, alert, now, f"{kind} received")
                elif alert.recovered_at is None:
                    alert.recovered_at = now
                    self._audit(session, "system", "recovering", alert, {"event": kind})

    def _auto_resolve(self, session: Session, alert: Alert, now: float, note: str) -> None:
        if alert.kind == "agent_offline":
            # How long nobody could see this home: the desk reports it, the family asks it.
            back = alert.recovered_at if alert.recovered_at is not None else now
            minutes = round((back - alert.opened_at) / 60, 1)
            alert.data = {**alert.data, "blind_minutes": minutes}
            note = f"home unit back online; the home was blind for {minutes:g} min"
        self._set_state(session, alert, "resolved", "system", now, resolution="auto", note=note)

    # -- who is paged ----------------------------------------------------------------------------

    def _doctors(self, session: Session, home: str) -> list[Caregiver]:
        return list(session.scalars(select(Caregiver).where(
            Caregiver.home_id == home, Caregiver.role == "doctor", Caregiver.active)))

    def organisation_people(self, session: Session, role: str) -> list[Caregiver]:
        """Return the active desk (`desk`) or technicians (`technician`), with stand-ins.

        No technicians: the desk stands in. No desk: every standing supervisor of every site,
        because a page must never go to nobody.
        """
        people = list(session.scalars(select(Caregiver).where(
            Caregiver.role == role, Caregiver.active).order_by(Caregiver.id)))
        if people:
            return people
        if role == "technician":
            return self.organisation_people(session, "desk")
        log.warning("no desk configured: the sites' supervisors stand in")
        return list(session.scalars(select(Caregiver).where(
            Caregiver.role == "supervisor", Caregiver.home_id.is_(None), Caregiver.active)
            .order_by(Caregiver.id)))

    def recipients(self, session: Session, alert: Alert, level: int) -> list[Caregiver]:
        """Return who is paged at an escalation level of an alert, by the rota at this time."""
        if alert.home == HUB_HOME:
            return self.organisation_people(session, "technician")
        home = session.get(Home, alert.home)
        site_cfg = self._site(session, alert.home)[1]
        if level == DESK_LEVEL or home is None or site_cfg is None:
            return self.organisation_people(session, "desk")
        role = site_cfg.escalation[min(level, len(site_cfg.escalation) - 1)].role
        if role == "family":
            query = select(Caregiver).where(Caregiver.home_id == alert.home,
                                            Caregiver.role == "family")
        else:
            ids = on_duty(self.config, home.site_id, role, self.clock.now())
            query = select(Caregiver).where(Caregiver.id.in_(ids))
        return list(session.scalars(query.where(Caregiver.active).order_by(Caregiver.id)))

    def _page_people(self, session: Session, alert: Alert, people: list[Caregiver],
                     reason: str, now: float, *, level: int) -> None:
        for person in people:
            session.add(Page(alert_id=alert.id, caregiver_id=person.id, level=level,
                             reason=reason, state="pending", created_at=now,
                             next_attempt_at=now))

    def _page_level(self, session: Session, alert: Alert, level: int, reason: str,
                    now: float) -> bool:
        """Page everyone at a level; return False when nobody holds that role."""
        if self.silenced(session, alert.home, now) is not None:
            self._audit(session, "system", "page_held", alert, {"reason": reason,
                                                                "level": level})
            return True
        people = self.recipients(session, alert, level)
        if not people:
            self._audit(session, "system", "nobody_at_level", alert, {"level": level})
            log.warning("alert %s: nobody at escalation level %d", alert.id, level)
            return False
        self._page_people(session, alert, people, reason, now, level=level)
        return True

    def _skip_empty_level(self, alert: Alert, now: float) -> None:
        # An empty level (no backup on this site, say) must not cost the resident minutes.
        if alert.next_escalation_at is not None:
            alert.next_escalation_at = min(alert.next_escalation_at, now)

    def _escalate(self, session: Session, alert: Alert, now: float) -> None:
        """Page every further escalation step that has come due."""
        site_cfg = self._site(session, alert.home)[1]
        if site_cfg is None:
            return
        steps = site_cfg.escalation
        while alert.next_escalation_at is not None and now >= alert.next_escalation_at:
            alert.level += 1
            self.counters["escalations"] += 1
            self._audit(session, "system", "escalated", alert,
                        {"level": alert.level, "role": steps[alert.level].role})
            paged = self._page_level(session, alert, alert.level, "escalation", now)
            nxt = alert.level + 1
            alert.next_escalation_at = (alert.opened_at + steps[nxt].after_s
                                        if nxt < len(steps) else None)
            if not paged:
                self._skip_empty_level(alert, now)
        self._desk_if_nobody(session, alert, now)

    def _desk_if_nobody(self, session: Session, alert: Alert, now: float) -> None:
        """Page the desk when the chain has ended and nobody on it was ever paged."""
        if alert.next_escalation_at is not None or alert.home == HUB_HOME:
            return
        if session.get(Home, alert.home) is None:
            return  # the desk already holds level 0 of an unregistered home
        staff_paged = session.scalars(select(Page.id).where(
            Page.alert_id == alert.id, Page.level >= 0)).first()
        desk_paged = session.scalars(select(Page.id).where(
            Page.alert_id == alert.id, Page.level == DESK_LEVEL)).first()
        if staff_paged is None and desk_paged is None:
            self._audit(session, "system", "chain_empty", alert, {"to": "desk"})
            self._page_level(session, alert, DESK_LEVEL, "escalation", now)

    # -- timers ----------------------------------------------------------------------------------

    def tick(self) -> None:
        """Escalate, remind, check service levels and settle recovered alerts that are due."""
        now = self.clock.now()
        with self.sessions() as session:
            for alert in session.scalars(select(Alert).where(Alert.state.in_(ACTIVE_STATES))):
                if alert.recovered_at is not None and \
                        now - alert.recovered_at >= self.config.flap_hold_s:
                    self._auto_resolve(session, alert, now, "device back")
                    continue
                if not alert.paging:
                    continue
                if alert.state == "open":
                    # Remind before escalating: the new level's first page is not doubled.
                    if alert.next_reminder_at is not None and now >= alert.next_reminder_at:
                        self._remind(session, alert, now)
                    self._escalate(session, alert, now)
                    if alert.ack_due_at is not None and not alert.ack_breached and \
                            now >= alert.ack_due_at:
                        alert.ack_breached = True
                        self.counters["sla_ack_breaches"] += 1
                        self._audit(session, "system", "sla_ack_breached", alert, {})
                        self._page_role(session, alert, "supervisor", "sla_ack", now)
                if alert.state in ("open", "acknowledged") and alert.arrival_due_at is not None \
                        and not alert.arrival_breached and now >= alert.arrival_due_at:
                    alert.arrival_breached = True
                    self.counters["sla_arrival_breaches"] += 1
                    self._audit(session, "system", "sla_arrival_breached", alert, {})
                    self._page_role(session, alert, "supervisor", "sla_arrival", now)
            self._settle_outage(session)
            session.commit()

    def _remind(self, session: Session, alert: Alert, now: float) -> None:
        site_cfg = self._site(session, alert.home)[1]
        self.counters["reminders"] += 1
        held = session.scalars(select(AuditEntry.id).where(
            AuditEntry.alert_id == alert.id, AuditEntry.action == "page_held")).first()
        reason = "silence_end" if held else "reminder"
        desk_paged = session.scalars(select(Page.id).where(
            Page.alert_id == alert.id, Page.level == DESK_LEVEL)).first() is not None
        for level in range(alert.level + 1):
            self._page_level(session, alert, level, reason, now)
        if desk_paged and "grouped_in" not in alert.data:
            self._page_level(session, alert, DESK_LEVEL, reason, now)
        else:
            self._desk_if_nobody(session, alert, now)
        alert.next_reminder_at = now + (site_cfg.reminder_every_s if site_cfg is not None
                                        else self.config.organisation.reminder_every_s)

    def _page_role(self, session: Session, alert: Alert, role: str, reason: str,
                   now: float) -> None:
        home = session.get(Home, alert.home)
        if home is None:
            return
        if self.silenced(session, alert.home, now) is not None:
            self._audit(session, "system", "page_held", alert, {"reason": reason, "role": role})
            return
        ids = on_duty(self.config, home.site_id, role, now)
        people = list(session.scalars(select(Caregiver).where(Caregiver.id.in_(ids),
                                                              Caregiver.active)))
        self._page_people(session, alert, people, reason, now, level=alert.level)

    # -- paging ----------------------------------------------------------------------------------

    def ack_link(self, alert_id: int, caregiver_id: str) -> str:
        """Return the signed one-tap acknowledge link of a caregiver for an alert."""
        grant = tokens.AckGrant(alert_id, caregiver_id, self.clock.now() + self.ack_link_ttl_s)
        return f"{self.public_url}/ack/{tokens.sign(self.secret, grant)}"

    def desk_link(self, caregiver_id: str) -> str:
        """Return the signed link to a caregiver's page of open alerts."""
        grant = tokens.AckGrant(0, caregiver_id, self.clock.now() + self.ack_link_ttl_s)
        return f"{self.public_url}/c/{tokens.sign(self.secret, grant)}"

    def compose(self, session: Session, alert: Alert, caregiver: Caregiver,
                reason: str = "alert") -> tuple[str, str]:
        """Return the title and body of a page: who, where, what, since when, and the link."""
        home = session.get(Home, alert.home)
        site = session.get(Site, home.site_id) if home else None
        if alert.home == HUB_HOME:
            resident, where = "the hub itself", "the hub"
        elif home is None:
            resident = "unregistered home"
            where = f"{alert.home} (not in the registry: add it to the hub's config)"
        else:
            resident = home.resident_name
            where = alert.home + (f", {home.address}" if home.address else "")
        zone = site.timezone if site else self.config.organisation.timezone
        since_utc = datetime.fromtimestamp(alert.first_event_t, UTC)
        local = since_utc.astimezone(ZoneInfo(zone))
        what = kind_text(alert.kind, "en")
        device = alert.data.get("device", "")
        title = (f"{REASON_TEXT.get(reason, '')}[{alert.severity.upper()}] {what}: "
                 f"{resident}, {alert.home}")
        lines = [
            f"What: {what} (device {device}, alert #{alert.id})",
            f"Who: {resident}",
            f"Where: {where}",
            f"Since: {local:%Y-%m-%d %H:%M:%S} local ({since_utc:%H:%M:%S} UTC)",
        ]
        if alert.event_count > 1:
            lines.append(f"Repeated: {alert.event_count} times")
        if alert.acknowledged_by:
            lines.append(f"Acknowledged by: {alert.acknowledged_by}")
        evidence = {k: v for k, v in alert.data.items() if k != "device"}
        if evidence and (reason == "doctor" or alert.home == HUB_HOME):
            label = "Readings: " if reason == "doctor" else "Details: "
            lines.append(label + ", ".join(f"{k}={v}" for k, v in evidence.items()))
        if reason != "doctor":
            lines.append(f"Acknowledge: {self.ack_link(alert.id, caregiver.id)}")
            lines.append(f"Your alerts: {self.desk_link(caregiver.id)}")
        return title, "\n".join(lines)

    def _page_still_wanted(self, page: Page, alert: Alert | None) -> bool:
        if alert is None:
            return False
        if page.reason == "doctor":
            return True
        if page.reason == "sla_arrival":
            return alert.state in ("open", "acknowledged")
        return alert.state == "open"

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
                if caregiver is None or alert is None or \
                        not self._page_still_wanted(page, alert):
                    page.state = "cancelled"
                    session.commit()
                    continue
                title, body = self.compose(session, alert, caregiver, page.reason)
                delivered = False
                for url in caregiver.notify:  # fall through the channels in order
                    result = await self._deliver(url, title, body)
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
                                {"caregiver": caregiver.id, "attempt": page.attempts,
                                 "reason": page.reason, "level": page.level})
                    self._person_reachable(session, caregiver.id)
                elif page.attempts >= MAX_PAGE_ATTEMPTS:
                    page.state = "failed"
                    self._audit(session, "system", "page_failed", alert,
                                {"caregiver": caregiver.id, "attempts": page.attempts})
                else:
                    page.next_attempt_at = now + min(5.0 * 2 ** (page.attempts - 1), 300.0)
                if not delivered and \
                        page.attempts >= self.config.watchdog.page_failures_before_alert:
                    self._person_unreachable(session, caregiver, now)
                session.commit()  # each page's outcome is kept even if a later one fails
        return sent

    async def _deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        """Deliver on one channel, bounded: a channel that hangs must not hold up the rest."""
        timeout = self.config.pager.delivery_timeout_s
        try:
            return await asyncio.wait_for(self.notifier.deliver(url, title, body), timeout)
        except TimeoutError:
            log.warning("delivery on %s took over %.0f s; trying the next channel",
                        redact(url), timeout)
            return DeliveryResult(False, redact(url), f"no answer within {timeout:g} s")

    # -- people act ------------------------------------------------------------------------------

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

    def silence(self, home: str, by: str, duration_s: float, reason: str) -> Silence:
        """Hold a home's pages for a stated time (a caregiver is on site); audited."""
        if not 0 < duration_s <= self.config.max_silence_s:
            raise TransitionError(f"a silence lasts 1 s to {self.config.max_silence_s:.0f} s")
        now = self.clock.now()
        with self.sessions() as session:
            if session.get(Home, home) is None:
                raise KeyError(home)
            entry = Silence(home=home, by=by, start=now, end=now + duration_s, reason=reason)
            session.add(entry)
            session.add(AuditEntry(at=now, actor=by, action="silenced", alert_id=None, home=home,
                                   detail={"until": now + duration_s, "reason": reason}))
            session.commit()
            return entry

    def _set_state(self, session: Session, alert: Alert, to: str, actor: str, now: float, *,
                   resolution: str | None = None, note: str | None = None) -> None:
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
            if not self._page_still_wanted(page, alert):
                page.state = "cancelled"
        self._audit(session, actor, to, alert, {"from": previous, "resolution": resolution,
                                                "note": note})

    def _audit(self, session: Session, actor: str, action: str, alert: Alert,
               detail: dict[str, Any]) -> None:
        session.add(AuditEntry(at=self.clock.now(), actor=actor, action=action,
                               alert_id=alert.id, home=alert.home,
                               detail={k: v for k, v in detail.items() if v is not None}))
