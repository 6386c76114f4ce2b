"""Pages out: what a page says (who, where, what, since when, and signed links; the texts
per channel are `hub.alerts.page_text`), and its delivery on the person's channels in order,
bounded in time, retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bedwatch.i18n import both, zone_info
from hub import tokens
from hub.alerts.escalation import DESK_LEVEL, DOCTOR_LEVEL, chain_role, step_after_s
from hub.alerts.intake import Intake
from hub.alerts.ownership import Ownership
from hub.alerts.page_text import REASON_TAGS, PageFacts, render
from hub.alerts.records import Clock, Records, page_still_wanted
from hub.config import ServiceSettings
from hub.db import Alert, Caregiver, Delivery, Home, Page, Resident, Site
from hub.pager import DeliveryResult, Notifier, channel_style, redact, scheme
from hub.registry import HUB_HOME
from hub.registry.people import person_language

log = logging.getLogger(__name__)

MAX_PAGE_ATTEMPTS = 12
# Why a page is sent (Page.reason) → the msgid of the tag its title starts with.
REASON_TEXT = REASON_TAGS


def retry_delay_s(attempts: int) -> float:
    """Return the wait before the next attempt of a page: 5 s doubling to 5 min."""
    return min(5.0 * 2 ** (attempts - 1), 300.0)


class Messages:
    """Write pages and the signed, expiring links they carry."""

    def __init__(self, config: ServiceSettings, clock: Clock, *, secret: str, public_url: str,
                 ack_link_ttl_s: float) -> None:
        self.config = config
        self.clock = clock
        self.secret = secret
        self.public_url = public_url.rstrip("/")
        self.ack_link_ttl_s = ack_link_ttl_s

    def ack_link(self, alert_id: int, caregiver_id: str) -> str:
        """Return the signed one-tap acknowledge link of a caregiver for an alert."""
        grant = tokens.AckGrant(alert_id, caregiver_id, self.clock.now() + self.ack_link_ttl_s)
        return f"{self.public_url}/ack/{tokens.sign(self.secret, grant)}"

    def desk_link(self, caregiver_id: str) -> str:
        """Return the signed link to a caregiver's page of open alerts."""
        grant = tokens.AckGrant(0, caregiver_id, self.clock.now() + self.ack_link_ttl_s)
        return f"{self.public_url}/c/{tokens.sign(self.secret, grant)}"

    def facts(self, session: Session, alert: Alert, caregiver: Caregiver, reason: str = "alert",
              level: int | None = None) -> PageFacts:
        """Return what a page to `caregiver` says, read from the registry and the alert now."""
        now = self.clock.now()
        language = person_language(session, caregiver)
        home = session.get(Home, alert.home)
        site = session.get(Site, home.site_id) if home else None
        level = alert.level if level is None else level
        address, resident_age = "", None
        if alert.home == HUB_HOME:
            resident, where = both("the hub itself"), both("the hub")
        elif home is None:
            resident = both("unregistered home")
            where = both("{home} (not in the registry: add it to the hub's registry)",
                         home=alert.home)
        else:
            resident, where, address = home.resident_name, alert.home, home.address
            resident_age = _age_of(session, alert.home, now, site)
        acknowledged_by = None
        if alert.acknowledged_by:
            person = session.get(Caregiver, alert.acknowledged_by)
            acknowledged_by = person.name if person is not None else alert.acknowledged_by
        reminder = session.scalar(select(func.count(Page.id)).where(
            Page.alert_id == alert.id, Page.caregiver_id == caregiver.id,
            Page.reason == "reminder")) or 0
        readings = {k: v for k, v in alert.data.items() if k != "device"}
        details = ", ".join(f"{k}={v}" for k, v in readings.items()) \
            if reason == "doctor" or alert.home == HUB_HOME else ""
        on_chain = site is not None and bool(site.escalation) and level >= 0
        return PageFacts(
            alert_id=alert.id, kind=alert.kind, severity=alert.severity, reason=reason,
            language=language, now=now, first_event_t=alert.first_event_t,
            zone=site.timezone if site else self.config.organisation.timezone,
            resident=resident, home=where, address=address, resident_age=resident_age,
            event_count=alert.event_count, data=dict(alert.data), level=max(level, 0),
            role=_role_at(site, level),
            level_after_s=step_after_s(site, level) if site is not None and on_chain else None,
            reminder=reminder, ack_due_at=alert.ack_due_at,
            ack_target_s=site.ack_target_s if site else None,
            arrival_due_at=alert.arrival_due_at,
            arrival_target_s=site.arrival_target_s if site else None,
            acknowledged_by=acknowledged_by, details=details,
            ack_link=self.ack_link(alert.id, caregiver.id) if reason != "doctor" else None,
            page_link=self.desk_link(caregiver.id) if reason != "doctor" else None)

    def compose(self, session: Session, alert: Alert, caregiver: Caregiver,
                reason: str = "alert", channel: str | None = None) -> tuple[str, str]:
        """Return the title and body of a page for one channel (None: plain text)."""
        facts = self.facts(session, alert, caregiver, reason)
        return render(facts, channel_style(channel) if channel else "plain")

    def compose_for(self, session: Session, alert: Alert, caregiver: Caregiver, reason: str,
                    urls: list[str], level: int | None = None) -> dict[str, tuple[str, str]]:
        """Return the title and body of a page for each of a person's channels."""
        facts = self.facts(session, alert, caregiver, reason, level)
        return {url: render(facts, channel_style(url)) for url in urls}


def _role_at(site: Site | None, level: int) -> str | None:
    """Return the role paged at a level: of the site's chain, or the desk's or the doctor's."""
    if level == DESK_LEVEL:
        return "desk"
    if level == DOCTOR_LEVEL:
        return "doctor"
    return chain_role(site, level) if site is not None and site.escalation else None


def _age_of(session: Session, home: str, now: float, site: Site | None) -> int | None:
    """Return the age in years of a home's resident, when the registry has the birth year."""
    birth_year = session.scalar(select(Resident.birth_year).where(
        Resident.home_id == home, Resident.active, Resident.birth_year.is_not(None))
        .order_by(Resident.id).limit(1))
    if birth_year is None:
        return None
    year = datetime.fromtimestamp(now, UTC).astimezone(zone_info(
        site.timezone if site else None)).year
    return year - int(birth_year)


class Dispatch:
    """Deliver the pages that are due, each on its person's channels in order, all at once:
    a channel that hangs holds up only its own page."""

    def __init__(self, sessions: sessionmaker[Session], notifier: Notifier,
                 config: ServiceSettings, clock: Clock, records: Records, messages: Messages,
                 intake: Intake, counters: dict[str, int],
                 ownership: Ownership | None = None) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.config = config
        self.clock = clock
        self.records = records
        self.messages = messages
        self.intake = intake
        self.counters = counters
        self.ownership = ownership or Ownership("hub", config.alert_lease_s)
        # Pages this process is delivering now: their claims are renewed with the leases.
        self.delivering: set[int] = set()

    async def process_due_pages(self) -> int:
        """Deliver every page that is due and this hub may send; return how many were sent.

        Each page is claimed first (one hub delivers it) and delivered with no database
        transaction open, so a slow channel holds no lock and no other page.
        """
        now = self.clock.now()
        with self.sessions() as session:
            due = [page_id for page_id, _ in session.execute(self.ownership.due_pages(now))]
        if not due:
            return 0
        sent = await asyncio.gather(*(self._deliver_page(page_id, now) for page_id in due))
        return sum(sent)

    async def _deliver_page(self, page_id: int, now: float) -> bool:
        """Claim one page, deliver it, and record the outcome; return True when it was sent."""
        if page_id in self.delivering:
            return False
        self.delivering.add(page_id)
        try:
            return await self._claimed_delivery(page_id, now)
        finally:
            self.delivering.discard(page_id)

    async def _claimed_delivery(self, page_id: int, now: float) -> bool:
        with self.sessions() as session:
            if not self.ownership.claim_page(session, page_id, now):
                return False  # another hub has it, or it was sent or cancelled meanwhile
            page = session.get(Page, page_id)
            if page is None:
                return False
            caregiver = session.get(Caregiver, page.caregiver_id)
            alert = session.get(Alert, page.alert_id, populate_existing=True)
            if caregiver is None or alert is None or not page_still_wanted(page, alert):
                page.state, page.claim_until = "cancelled", None
                session.commit()
                return False
            urls = list(caregiver.notify)
            texts = self.messages.compose_for(session, alert, caregiver, page.reason, urls,
                                              page.level)
        results = await self._send(urls, texts)  # no transaction open meanwhile
        with self.sessions() as session:
            page = session.get(Page, page_id)
            alert = session.get(Alert, page.alert_id) if page is not None else None
            caregiver = session.get(Caregiver, page.caregiver_id) if page is not None else None
            if page is None or alert is None or caregiver is None:
                return False
            page.attempts += 1
            for (at, result), url in zip(results, urls, strict=False):
                session.add(Delivery(page_id=page.id, alert_id=alert.id,
                                     caregiver_id=caregiver.id, channel=result.channel,
                                     ok=result.ok, error=result.error, at=at))
                # Who by id and the channel by its scheme: no name, address or secret.
                log.info("alert #%d (%s) page %s to %s on %s: %s", alert.id, alert.kind,
                         page.reason, caregiver.id, scheme(url) or "(invalid)",
                         "delivered" if result.ok else f"failed ({result.error})")
            if results and results[-1][1].ok:
                page.state, page.sent_at = "sent", results[-1][0]
            self.counters["delivery_failures"] += sum(not r.ok for _, r in results)
            page.claim_until = None
            self._outcome(session, page, alert, caregiver, now)
            session.commit()  # each page's outcome is kept even if a later one fails
        return page.state == "sent"

    async def _send(self, urls: list[str], texts: dict[str, tuple[str, str]]
                    ) -> list[tuple[float, DeliveryResult]]:
        """Try the channels in order until one takes the page (each with the text it can
        show); return every attempt."""
        results: list[tuple[float, DeliveryResult]] = []
        for url in urls:  # fall through the channels in order
            result = await self.deliver(url, *texts[url])
            results.append((self.clock.now(), result))
            if result.ok:
                break
        return results

    def _outcome(self, session: Session, page: Page, alert: Alert, caregiver: Caregiver,
                 now: float) -> None:
        if page.state == "sent":
            self.counters["pages_sent"] += 1
            self.records.audit(session, "system", "paged", alert,
                               {"caregiver": caregiver.id, "attempt": page.attempts,
                                "reason": page.reason, "level": page.level})
            self.intake.person_reachable(session, caregiver.id)
            return
        if page.state != "pending":
            return  # cancelled while it was being delivered, on no channel
        if page.attempts >= MAX_PAGE_ATTEMPTS:
            page.state = "failed"
            self.records.audit(session, "system", "page_failed", alert,
                               {"caregiver": caregiver.id, "attempts": page.attempts})
        else:
            page.next_attempt_at = now + retry_delay_s(page.attempts)
        if page.attempts >= self.config.watchdog.page_failures_before_alert:
            self.intake.person_unreachable(session, caregiver, now)

    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        """Deliver on one channel, bounded: a channel that hangs must not hold up the rest."""
        timeout = self.config.pager.delivery_timeout_s
        try:
            return await asyncio.wait_for(self.notifier.deliver(url, title, body), timeout)
        except TimeoutError:
            log.warning("delivery on %s took over %.0f s; trying the next channel",
                        redact(url), timeout)
            return DeliveryResult(False, redact(url), f"no answer within {timeout:g} s")
