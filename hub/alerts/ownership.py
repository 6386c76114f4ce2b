"""Which hub runs an alert: one owner at a time, by a lease in the database, so that several
hub processes can share one PostgreSQL store and nobody is paged twice.

The rules, each a single SQL statement or a row lock, so that they hold whatever the hubs'
timing:

- The hub whose intake opens an alert owns it, with a lease of `alert_lease_s`. The owner
  renews the lease while the alert is active; another hub takes the alert over only once the
  lease has run out (a conditional UPDATE: of two hubs trying, one wins).
- A hub acts on an alert's timers only in a transaction that holds the alert's row lock and
  finds itself the owner (`SELECT … FOR UPDATE`): a take-over waits for that transaction, and
  the timers it advanced are what the next owner reads. A timer therefore fires once, even
  if a hub stalls past its lease.
- A page is delivered only by the hub that claimed it (a conditional UPDATE of the page row:
  pending, due, and no live claim). A claim lasts `alert_lease_s` and the hub renews it with
  its leases while the delivery goes on, so only a hub that died (or froze for longer than
  the lease) mid-delivery leaves a claim that runs out; its page is then delivered again by
  another: the one case of a page that may arrive twice, as whether it left before the crash
  cannot be known.

SQLite has one writer and no row locks: there one hub runs (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from hub.alerts.records import ACTIVE_STATES, Records
from hub.db import Alert, Page


@dataclass(frozen=True)
class Ownership:
    """One hub's side of the ownership rules: its name and how long its leases last."""

    name: str
    lease_s: float

    def stamp(self, alert: Alert, now: float) -> None:
        """Make this hub the owner of an alert it opens."""
        alert.owner, alert.lease_until = self.name, now + self.lease_s

    def upkeep(self, session: Session, records: Records, now: float,
               delivering: Collection[int] = ()) -> list[int]:
        """Renew this hub's leases and the claims of the pages it is `delivering`, and take
        over the active alerts whose lease ran out; return the ids taken over (each audited
        with the hub it came from)."""
        # Renewed at half-life: one write per alert every lease_s / 2, not one per tick. Read
        # first: a tick with nothing to renew writes nothing (with SQLite even an UPDATE of no
        # row takes the database's only write lock).
        mine = (Alert.owner == self.name, Alert.state.in_(ACTIVE_STATES),
                Alert.lease_until < now + self.lease_s / 2)
        if renew := session.scalars(select(Alert.id).where(*mine)).all():
            session.execute(
                update(Alert).where(Alert.id.in_(renew), *mine)
                .values(lease_until=now + self.lease_s)
                .execution_options(synchronize_session=False))
        if delivering:
            session.execute(
                update(Page).where(Page.id.in_(list(delivering)), Page.claimed_by == self.name,
                                   Page.state == "pending", Page.claim_until.is_not(None),
                                   Page.claim_until < now + self.lease_s / 2)
                .values(claim_until=now + self.lease_s)
                .execution_options(synchronize_session=False))
        lapsed = or_(Alert.owner.is_(None), Alert.lease_until.is_(None),
                     Alert.lease_until < now)
        taken: list[int] = []
        for alert_id, previous in session.execute(
                select(Alert.id, Alert.owner).where(Alert.state.in_(ACTIVE_STATES), lapsed)
                .order_by(Alert.id)).all():
            won = session.execute(
                update(Alert).where(Alert.id == alert_id, Alert.state.in_(ACTIVE_STATES),
                                    lapsed)
                .values(owner=self.name, lease_until=now + self.lease_s)
                .execution_options(synchronize_session=False))
            if won.rowcount == 1:  # type: ignore[attr-defined]
                alert = session.get(Alert, alert_id)
                if alert is not None:
                    session.refresh(alert)
                    records.audit(session, "system", "taken_over", alert,
                                  {"hub": self.name, "from": previous})
                session.commit()  # one row lock at a time: no hub waits on a batch of them
                taken.append(alert_id)
        return taken

    def due_alerts(self, now: float, flap_hold_s: float) -> Select[Alert]:
        """Return the query of this hub's alerts with a timer due, locked for the tick."""
        open_due = and_(Alert.state == "open", or_(
            Alert.next_reminder_at <= now, Alert.next_escalation_at <= now,
            and_(Alert.ack_due_at <= now, Alert.ack_breached.is_(False))))
        arrival_due = and_(Alert.state.in_(("open", "acknowledged")),
                           Alert.arrival_due_at <= now, Alert.arrival_breached.is_(False))
        settling = and_(Alert.recovered_at.is_not(None),
                        Alert.recovered_at <= now - flap_hold_s)
        return (select(Alert)
                .where(Alert.owner == self.name, Alert.state.in_(ACTIVE_STATES),
                       or_(settling, and_(Alert.paging.is_(True), or_(open_due, arrival_due))))
                .order_by(Alert.id).with_for_update(of=Alert))

    def owns(self, session: Session, alert: Alert) -> bool:
        """Lock an alert's row and return True when this hub owns it."""
        row = session.execute(select(Alert.owner).where(Alert.id == alert.id)
                              .with_for_update()).scalar_one_or_none()
        return row == self.name

    def due_pages(self, now: float) -> Select[int, int]:
        """Return the query of (page id, alert id) this hub should deliver now: pending, due,
        unclaimed, of an alert it owns or that nobody holds any more (a resolved alert's
        page to the doctor, an owner gone)."""
        return (select(Page.id, Page.alert_id).join(Alert, Alert.id == Page.alert_id)
                .where(Page.state == "pending", Page.next_attempt_at <= now,
                       or_(Page.claim_until.is_(None), Page.claim_until < now),
                       or_(Alert.owner == self.name, Alert.owner.is_(None),
                           Alert.lease_until.is_(None), Alert.lease_until < now))
                .order_by(Page.id))

    def claim_page(self, session: Session, page_id: int, now: float) -> bool:
        """Claim a due page for delivery by this hub; return False when another hub has it
        or it is no longer pending. Commits the claim."""
        until = now + self.lease_s
        won = session.execute(
            update(Page).where(Page.id == page_id, Page.state == "pending",
                               Page.next_attempt_at <= now,
                               or_(Page.claim_until.is_(None), Page.claim_until < now))
            .values(claimed_by=self.name, claim_until=until)
            .execution_options(synchronize_session=False))
        session.commit()
        return bool(won.rowcount == 1)  # type: ignore[attr-defined]

    def release_claims(self, session: Session) -> int:
        """Give up the claims this hub's earlier run held when it stopped (a restart under
        the same name: its deliveries in flight died with it); return how many."""
        done = session.execute(
            update(Page).where(Page.claimed_by == self.name, Page.state == "pending",
                               Page.claim_until.is_not(None))
            .values(claim_until=None).execution_options(synchronize_session=False))
        return int(done.rowcount)  # type: ignore[attr-defined]
