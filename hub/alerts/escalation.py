"""Who is paged, and when: the site's chain by the rota, reminders, service-level timers, and
the organisation's desk and technicians where no site answers.

The chain, the reminder interval and the targets are the site's row (`Site.escalation`,
`Site.reminder_every_s`, `Site.ack_target_s`, `Site.arrival_target_s`); who holds a role is
asked of the rota rows at the moment of each page.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bedwatch.kinds import AlertRule
from hub.alerts.records import Clock, Records
from hub.alerts.rules import serving_site
from hub.config import ServiceSettings
from hub.db import Alert, AuditEntry, Caregiver, Home, Page, Site
from hub.registry import HUB_HOME
from hub.rota import on_duty

log = logging.getLogger(__name__)

# Page levels outside the site's chain: the resident's doctor, and the organisation's desk.
DOCTOR_LEVEL = -1
DESK_LEVEL = -2


def chain_role(site: Site, level: int) -> str:
    """Return the role paged at a level of the site's chain (the last step beyond its end)."""
    steps = site.escalation
    return str(steps[min(level, len(steps) - 1)]["role"])


def step_after_s(site: Site, level: int) -> float | None:
    """Return when a level of the chain is due after the alert opened; None past its end."""
    steps = site.escalation
    return float(steps[level]["after_s"]) if level < len(steps) else None


class Escalation:
    """Page the right people for an alert, now and as its timers come due."""

    def __init__(self, config: ServiceSettings, clock: Clock, records: Records,
                 counters: dict[str, int]) -> None:
        self.config = config
        self.clock = clock
        self.records = records
        self.counters = counters

    def start_timers(self, alert: Alert, rule: AlertRule, site: Site | None,
                     now: float) -> None:
        """Set a new paging alert's timers: the site's targets and chain, or the organisation's."""
        if site is not None:
            alert.ack_due_at = now + site.ack_target_s
            if rule.severity == "critical":
                alert.arrival_due_at = now + site.arrival_target_s
            alert.next_reminder_at = now + site.reminder_every_s
            after = step_after_s(site, 1)
            alert.next_escalation_at = now + after if after is not None else None
        else:
            # No site answers it (an unregistered home, the hub itself): the organisation does.
            alert.next_reminder_at = now + self.config.organisation.reminder_every_s

    # -- who ---------------------------------------------------------------------------------

    def doctors(self, session: Session, home: str) -> list[Caregiver]:
        """Return the active doctors of a home."""
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
        if level == DESK_LEVEL:  # the hub's own alerts that notify the desk too (dead_letter)
            return self.organisation_people(session, "desk")
        if alert.home == HUB_HOME:
            return self.organisation_people(session, "technician")
        home = session.get(Home, alert.home)
        site = serving_site(session, alert.home)
        if home is None or site is None:
            return self.organisation_people(session, "desk")
        role = chain_role(site, level)
        if role == "family":
            query = select(Caregiver).where(Caregiver.home_id == alert.home,
                                            Caregiver.role == "family")
        else:
            ids = on_duty(session, home.site_id, role, self.clock.now())
            query = select(Caregiver).where(Caregiver.id.in_(ids))
        return list(session.scalars(query.where(Caregiver.active).order_by(Caregiver.id)))

    # -- paging ------------------------------------------------------------------------------

    def page_people(self, session: Session, alert: Alert, people: list[Caregiver],
                    reason: str, now: float, *, level: int) -> None:
        """Queue one page per person; delivery sends them."""
        for person in people:
            session.add(Page(alert_id=alert.id, caregiver_id=person.id, level=level,
                             reason=reason, state="pending", created_at=now,
                             next_attempt_at=now))

    def page_level(self, session: Session, alert: Alert, level: int, reason: str,
                   now: float) -> bool:
        """Page everyone at a level; return False when nobody holds that role."""
        if self.records.silenced(session, alert.home, now) is not None:
            self.records.audit(session, "system", "page_held", alert, {"reason": reason,
                                                                       "level": level})
            return True
        people = self.recipients(session, alert, level)
        if not people:
            self.records.audit(session, "system", "nobody_at_level", alert, {"level": level})
            log.warning("alert %s: nobody at escalation level %d", alert.id, level)
            return False
        self.page_people(session, alert, people, reason, now, level=level)
        return True

    def page_role(self, session: Session, alert: Alert, role: str, reason: str,
                  now: float) -> None:
        """Page whoever holds a role at the home's site now (the supervisor on a breach)."""
        home = session.get(Home, alert.home)
        if home is None:
            return
        if self.records.silenced(session, alert.home, now) is not None:
            self.records.audit(session, "system", "page_held", alert,
                               {"reason": reason, "role": role})
            return
        ids = on_duty(session, home.site_id, role, now)
        people = list(session.scalars(select(Caregiver).where(Caregiver.id.in_(ids),
                                                              Caregiver.active)))
        self.page_people(session, alert, people, reason, now, level=alert.level)

    def skip_empty_level(self, alert: Alert, now: float) -> None:
        """Bring the next step forward: an empty level must not cost the resident minutes."""
        if alert.next_escalation_at is not None:
            alert.next_escalation_at = min(alert.next_escalation_at, now)

    # -- timers ------------------------------------------------------------------------------

    def escalate(self, session: Session, alert: Alert, now: float) -> None:
        """Page every further escalation step that has come due."""
        site = serving_site(session, alert.home)
        if site is None:
            return
        while alert.next_escalation_at is not None and now >= alert.next_escalation_at:
            alert.level += 1
            self.counters["escalations"] += 1
            self.records.audit(session, "system", "escalated", alert,
                               {"level": alert.level, "role": chain_role(site, alert.level)})
            paged = self.page_level(session, alert, alert.level, "escalation", now)
            after = step_after_s(site, alert.level + 1)
            alert.next_escalation_at = alert.opened_at + after if after is not None else None
            if not paged:
                self.skip_empty_level(alert, now)
        self.desk_if_nobody(session, alert, now)

    def desk_if_nobody(self, session: Session, alert: Alert, now: float) -> None:
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
            self.records.audit(session, "system", "chain_empty", alert, {"to": "desk"})
            self.page_level(session, alert, DESK_LEVEL, "escalation", now)

    def remind(self, session: Session, alert: Alert, now: float) -> None:
        """Page everyone paged so far again (after a silence: the pages it held)."""
        site = serving_site(session, alert.home)
        self.counters["reminders"] += 1
        held = session.scalars(select(AuditEntry.id).where(
            AuditEntry.alert_id == alert.id, AuditEntry.action == "page_held")).first()
        reason = "silence_end" if held else "reminder"
        desk_paged = session.scalars(select(Page.id).where(
            Page.alert_id == alert.id, Page.level == DESK_LEVEL)).first() is not None
        for level in range(alert.level + 1):
            self.page_level(session, alert, level, reason, now)
        if desk_paged and "grouped_in" not in alert.data:
            self.page_level(session, alert, DESK_LEVEL, reason, now)
        else:
            self.desk_if_nobody(session, alert, now)
        alert.next_reminder_at = now + (site.reminder_every_s if site is not None
                                        else self.config.organisation.reminder_every_s)

    def on_tick(self, session: Session, alert: Alert, now: float) -> None:
        """Remind, escalate and check the service levels of one paging alert."""
        if alert.state == "open":
            # Remind before escalating: the new level's first page is not doubled.
            if alert.next_reminder_at is not None and now >= alert.next_reminder_at:
                self.remind(session, alert, now)
            self.escalate(session, alert, now)
            if alert.ack_due_at is not None and not alert.ack_breached and \
                    now >= alert.ack_due_at:
                alert.ack_breached = True
                self.counters["sla_ack_breaches"] += 1
                self.records.audit(session, "system", "sla_ack_breached", alert, {})
                self.page_role(session, alert, "supervisor", "sla_ack", now)
        if alert.state in ("open", "acknowledged") and alert.arrival_due_at is not None \
                and not alert.arrival_breached and now >= alert.arrival_due_at:
            alert.arrival_breached = True
            self.counters["sla_arrival_breaches"] += 1
            self.records.audit(session, "system", "sla_arrival_breached", alert, {})
            self.page_role(session, alert, "supervisor", "sla_arrival", now)
