"""Pages out: what a page says (who, where, what, since when, and signed links), and its
delivery on the person's channels in order, bounded in time, retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bedwatch.kinds import kind_text
from hub import tokens
from hub.alerts.intake import Intake
from hub.alerts.records import Clock, Records, page_still_wanted
from hub.config import ServiceSettings
from hub.db import Alert, Caregiver, Delivery, Home, Page, Site
from hub.pager import DeliveryResult, Notifier, redact
from hub.registry import HUB_HOME

log = logging.getLogger(__name__)

MAX_PAGE_ATTEMPTS = 12
REASON_TEXT = {
    "alert": "",
    "reminder": "[REMINDER] ",
    "escalation": "[ESCALATED] ",
    "sla_ack": "[NOT ACKNOWLEDGED IN TIME] ",
    "sla_arrival": "[NOBODY ON SITE IN TIME] ",
    "doctor": "[FOR THE DOCTOR] ",
    "silence_end": "[AFTER SILENCE] ",
}


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


class Dispatch:
    """Deliver the pages that are due, each on its person's channels in order."""

    def __init__(self, sessions: sessionmaker[Session], notifier: Notifier,
                 config: ServiceSettings, clock: Clock, records: Records, messages: Messages,
                 intake: Intake, counters: dict[str, int]) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.config = config
        self.clock = clock
        self.records = records
        self.messages = messages
        self.intake = intake
        self.counters = counters

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
                if caregiver is None or alert is None or not page_still_wanted(page, alert):
                    page.state = "cancelled"
                    session.commit()
                    continue
                if await self._send(session, page, alert, caregiver):
                    sent += 1
                self._outcome(session, page, alert, caregiver, now)
                session.commit()  # each page's outcome is kept even if a later one fails
        return sent

    async def _send(self, session: Session, page: Page, alert: Alert,
                    caregiver: Caregiver) -> bool:
        """Try the person's channels in order until one takes the page; store every attempt."""
        title, body = self.messages.compose(session, alert, caregiver, page.reason)
        page.attempts += 1
        for url in caregiver.notify:  # fall through the channels in order
            result = await self.deliver(url, title, body)
            session.add(Delivery(page_id=page.id, alert_id=alert.id, caregiver_id=caregiver.id,
                                 channel=result.channel, ok=result.ok, error=result.error,
                                 at=self.clock.now()))
            if result.ok:
                page.state, page.sent_at = "sent", self.clock.now()
                return True
            self.counters["delivery_failures"] += 1
        return False

    def _outcome(self, session: Session, page: Page, alert: Alert, caregiver: Caregiver,
                 now: float) -> None:
        if page.state == "sent":
            self.counters["pages_sent"] += 1
            self.records.audit(session, "system", "paged", alert,
                               {"caregiver": caregiver.id, "attempt": page.attempts,
                                "reason": page.reason, "level": page.level})
            self.intake.person_reachable(session, caregiver.id)
            return
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
