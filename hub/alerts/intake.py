"""Events in: open an alert or add to the open one, settle what recovered, and raise the
alerts of no site (a home the registry does not know, the hub itself, a mass outage).

Life-safety alerts never auto-resolve. The same kind from the same home (and device, for
device alerts) while an alert is open adds to it instead of paging again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bedwatch import wire
from bedwatch.kinds import RULES
from hub.alerts.escalation import DESK_LEVEL, DOCTOR_LEVEL, Escalation
from hub.alerts.ownership import Ownership
from hub.alerts.records import ACTIVE_STATES, Clock, Records
from hub.alerts.rules import Rules, serving_site
from hub.config import ServiceSettings
from hub.db import Alert, Caregiver, Home, Page
from hub.registry import HUB_HOME
from hub.watchdog import is_mass_outage

log = logging.getLogger(__name__)


class Intake:
    """Turn stored events into alerts, and keep the hub's own alerts."""

    def __init__(self, config: ServiceSettings, clock: Clock, records: Records, rules: Rules,
                 escalation: Escalation, counters: dict[str, int],
                 ownership: Ownership | None = None) -> None:
        self.config = config
        self.ownership = ownership or Ownership("hub", config.alert_lease_s)
        self.clock = clock
        self.records = records
        self.rules = rules
        self.escalation = escalation
        self.counters = counters

    def on_event(self, session: Session, home: str, kind: str, device: str, t: float,
                 data: dict[str, Any] | None = None) -> Alert | None:
        """Apply one stored event; return the alert it opened or joined (None: no alert)."""
        now = self.clock.now()
        if kind != "unknown_home":
            self.note_unknown_home(session, home, device)
        self._recovered(session, home, kind, device, now)
        rule = self.rules.rule_for(session, home, kind)
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
            self.records.audit(session, "system", "grouped", alert, {"device": device, "t": t})
            return alert
        alert = Alert(home=home, device=group_device, kind=kind, severity=rule.severity,
                      state="open", opened_at=now, first_event_t=t, last_event_at=now,
                      event_count=1, data={"device": device, **(data or {})},
                      paging=rule.page, level=0)
        site = serving_site(session, home)
        self.ownership.stamp(alert, now)  # the hub that opens an alert runs it
        if rule.page:
            self.escalation.start_timers(alert, rule, site, now)
        session.add(alert)
        session.flush()
        self.counters["alerts_opened"] += 1
        self.records.audit(session, "system", "opened", alert, {"device": device, "t": t})
        paging = self.escalation
        if rule.notify_doctor:
            paging.page_people(session, alert, paging.doctors(session, home), "doctor", now,
                               level=DOCTOR_LEVEL)
        if not alert.paging:
            return alert
        if not paging.page_level(session, alert, 0, "alert", now):
            paging.skip_empty_level(alert, now)
            paging.escalate(session, alert, now)
        if rule.notify_desk and (site is not None or home == HUB_HOME) and \
                not (kind == "agent_offline" and self._group_outage(session, now)):
            paging.page_level(session, alert, DESK_LEVEL, "alert", now)
        return alert

    def note_unknown_home(self, session: Session, home: str, source: str) -> Alert | None:
        """Raise `unknown_home` (once per home while open) when a home is not registered."""
        if home == HUB_HOME or session.get(Home, home) is not None:
            return None
        log.warning("message from unregistered home %s: paging the desk", home)
        return self.on_event(session, home, "unknown_home", source, self.clock.now(), {})

    def _recovered(self, session: Session, home: str, kind: str, device: str,
                   now: float) -> None:
        # Only kinds with an active alert in this home can recover: one indexed query, and
        # most homes have none (no rule is looked up for them).
        active = set(session.scalars(select(Alert.kind).where(
            Alert.home == home, Alert.state.in_(ACTIVE_STATES)).distinct()))
        for alert_kind in RULES:
            if alert_kind not in active:
                continue
            rule = self.rules.rule_for(session, home, alert_kind)
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
                    self.auto_resolve(session, alert, now, f"{kind} received")
                elif alert.recovered_at is None:
                    alert.recovered_at = now
                    self.records.audit(session, "system", "recovering", alert, {"event": kind})

    def auto_resolve(self, session: Session, alert: Alert, now: float, note: str) -> None:
        """Resolve a recovered alert; a home unit back online says how long the home was blind."""
        if alert.kind == "agent_offline":
            # How long nobody could see this home: the desk reports it, the family asks it.
            back = alert.recovered_at if alert.recovered_at is not None else now
            minutes = round((back - alert.opened_at) / 60, 1)
            alert.data = {**alert.data, "blind_minutes": minutes}
            note = f"home unit back online; the home was blind for {minutes:g} min"
        self.records.set_state(session, alert, "resolved", "system", now, resolution="auto",
                               note=note)

    # -- the hub's own alerts ------------------------------------------------------------------

    def raise_hub_alert(self, session: Session, kind: str, since: float,
                        data: dict[str, Any] | None = None, *, device: str = "hub") -> Alert:
        """Open (or join) an alert about the hub itself; it pages the technicians. `device`
        names the hub process for what one hub sees of itself (`group_by_device` kinds)."""
        alert = self.on_event(session, HUB_HOME, kind, device, since,
                              {"since": since, **(data or {})})
        assert alert is not None, f"{kind} has no rule"
        return alert

    def active_hub_alert(self, session: Session, kind: str,
                         device: str | None = None) -> Alert | None:
        """Return the unresolved alert of a kind about the hub itself, if any; of one hub
        process when `device` names it (or an alert of no hub, from before hubs were named)."""
        query = select(Alert).where(Alert.home == HUB_HOME, Alert.kind == kind,
                                    Alert.state.in_(ACTIVE_STATES))
        if device is not None:
            query = query.where(Alert.device.in_((device, "")))
        return session.scalars(query.order_by(Alert.id.desc()).limit(1)).first()

    def resolve_hub_alert(self, session: Session, kind: str, what: str,
                          device: str | None = None) -> Alert | None:
        """Resolve the hub's alert of a kind on recovery, with how long the outage lasted."""
        alert = self.active_hub_alert(session, kind, device)
        if alert is None:
            return None
        now = self.clock.now()
        minutes = round((now - float(alert.data.get("since", alert.opened_at))) / 60, 1)
        alert.data = {**alert.data, "outage_minutes": minutes}
        self.records.set_state(session, alert, "resolved", "system", now, resolution="auto",
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
        # Only alerts not folded in yet: each home of a street going offline together would
        # otherwise go over every earlier one again (quadratic in the outage).
        fresh = [alert for alert in recent if alert.data.get("grouped_in") != group.id]
        for alert in fresh:
            alert.data = {**alert.data, "grouped_in": group.id}
        if fresh:
            for page in session.scalars(select(Page).where(
                    Page.alert_id.in_([alert.id for alert in fresh]),
                    Page.level == DESK_LEVEL, Page.state == "pending")):
                page.state = "cancelled"
        self.records.audit(session, "system", "homes_grouped", group, {"homes": homes})
        return True

    def settle_outage(self, session: Session) -> None:
        """Resolve the mass-outage alert once every home in it is back."""
        group = self.active_hub_alert(session, "homes_offline_many")
        if group is None or not self.ownership.owns(session, group):
            return
        still = session.scalars(select(Alert.id).where(
            Alert.kind == "agent_offline", Alert.home.in_(group.data.get("homes", [])),
            Alert.state.in_(ACTIVE_STATES), Alert.recovered_at.is_(None))).first()
        if still is None:
            self.resolve_hub_alert(session, "homes_offline_many", "every home back online")

    def person_unreachable(self, session: Session, person: Caregiver, now: float) -> None:
        """Put a person whose pages fail on every channel on the `pages_failing` alert."""
        alert = self.active_hub_alert(session, "pages_failing")
        if alert is not None and person.id in alert.data.get("people", []):
            return
        alert = self.raise_hub_alert(session, "pages_failing", now)
        alert.data = {**alert.data, "people": sorted({*alert.data.get("people", []),
                                                      person.id})}

    def person_reachable(self, session: Session, person_id: str) -> None:
        """Take a person off `pages_failing`; resolve it once nobody is left on it."""
        alert = self.active_hub_alert(session, "pages_failing")
        if alert is None or person_id not in alert.data.get("people", []):
            return
        left = [p for p in alert.data.get("people", []) if p != person_id]
        alert.data = {**alert.data, "people": left}
        if not left:
            self.resolve_hub_alert(session, "pages_failing", "pages delivered again")
