"""A resident's rights over their data (PIPL): everything held about them, and its erasure.

A home's sensors watch everyone in it, so a home's events, alerts, pages, readings and the
like count as the data of its residents: the export holds all of them, and erasing a resident
erases them (with the home's contacts), blanks the home's address and notes and retires it.
The one trace left is the audit entry that records the erasure: who, when, which ids and how
many rows, and no personal data.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from hub.accounts import AccessToken, User
from hub.db import (
    AgentState,
    Alert,
    AuditEntry,
    Base,
    Caregiver,
    DeadLetter,
    Delivery,
    Device,
    EventRecord,
    Home,
    Page,
    Resident,
    Silence,
)
from hub.influx import InfluxWriter, drop_home_series, home_points
from hub.registry.service import NotFound, refresh_resident_name

ERASED = "resident_erased"


def _row(row: Base) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = getattr(row, column.name)
        out[column.name] = (base64.b64encode(value).decode() if isinstance(value, bytes)
                            else value)
    return out


def resident_or_404(session: Session, resident_id: str) -> Resident:
    """Return the resident; NotFound if there is none."""
    row = session.get(Resident, resident_id)
    if row is None:
        raise NotFound(f"no resident {resident_id!r}")
    return row


def _alert_ids(session: Session, home_id: str) -> list[int]:
    return list(session.scalars(select(Alert.id).where(Alert.home == home_id)))


def _audit_of(home_id: str, alert_ids: list[int]) -> Any:
    return or_(AuditEntry.home == home_id, AuditEntry.alert_id.in_(alert_ids))


async def export_resident(session: Session, resident_id: str,
                          influx: InfluxWriter) -> dict[str, Any]:
    """Return everything held about a resident: their row, their home with its devices and
    contacts, its events, alerts, pages, deliveries, silences, agent state, dead letters,
    audit entries, and its InfluxDB readings by measurement."""
    resident = resident_or_404(session, resident_id)
    home_id = resident.home_id
    home = session.get(Home, home_id)
    alerts = _alert_ids(session, home_id)

    def rows(query: Any) -> list[dict[str, Any]]:
        return [_row(r) for r in session.scalars(query)]

    return {
        "resident": _row(resident),
        "home": _row(home) if home is not None else None,
        "devices": rows(select(Device).where(Device.home_id == home_id).order_by(Device.id)),
        "contacts": rows(select(Caregiver).where(Caregiver.home_id == home_id)
                         .order_by(Caregiver.id)),
        "events": rows(select(EventRecord).where(EventRecord.home == home_id)
                       .order_by(EventRecord.received_order)),
        "alerts": rows(select(Alert).where(Alert.home == home_id).order_by(Alert.id)),
        "pages": rows(select(Page).where(Page.alert_id.in_(alerts)).order_by(Page.id)),
        "deliveries": rows(select(Delivery).where(Delivery.alert_id.in_(alerts))
                           .order_by(Delivery.id)),
        "silences": rows(select(Silence).where(Silence.home == home_id).order_by(Silence.id)),
        "agent_status": rows(select(AgentState).where(AgentState.home == home_id)),
        "dead_letters": rows(select(DeadLetter).where(DeadLetter.home == home_id)
                             .order_by(DeadLetter.id)),
        "audit": rows(select(AuditEntry).where(_audit_of(home_id, alerts))
                      .order_by(AuditEntry.id)),
        "readings": await home_points(influx, home_id),
    }


async def erase_resident(session: Session, resident_id: str, influx: InfluxWriter, *,
                         actor: str, now: float) -> dict[str, Any]:
    """Erase a resident and their home's personal data; commit; return the audit's detail.

    InfluxDB goes first: if it cannot be reached nothing is erased, and asking again
    finishes the job. Revoke the home's broker identity before, or its agent writes anew.
    """
    resident = resident_or_404(session, resident_id)
    home_id = resident.home_id
    series = await drop_home_series(influx, home_id)
    alerts = _alert_ids(session, home_id)
    counts: dict[str, int] = {}

    def erase(name: str, statement: Any) -> None:
        counts[name] = session.execute(statement).rowcount or 0  # type: ignore[attr-defined]

    erase("deliveries", delete(Delivery).where(Delivery.alert_id.in_(alerts)))
    erase("pages", delete(Page).where(Page.alert_id.in_(alerts)))
    erase("events", delete(EventRecord).where(EventRecord.home == home_id))
    # Earlier erasures of the home's residents stay on record.
    erase("audit", delete(AuditEntry).where(_audit_of(home_id, alerts),
                                            AuditEntry.action != ERASED))
    erase("alerts", delete(Alert).where(Alert.home == home_id))
    erase("silences", delete(Silence).where(Silence.home == home_id))
    erase("agent_status", delete(AgentState).where(AgentState.home == home_id))
    erase("dead_letters", delete(DeadLetter).where(DeadLetter.home == home_id))
    # The logins of the home's family and doctor go with them: their phones' device logins
    # and tokens first, then the users (their rows point at the contacts).
    contacts = list(session.scalars(select(Caregiver.id).where(Caregiver.home_id == home_id)))
    logins = list(session.scalars(select(User.id).where(
        or_(User.person_id.in_(contacts), User.home == home_id))))
    erase("tokens", delete(AccessToken).where(or_(AccessToken.person_id.in_(contacts),
                                                  AccessToken.user_id.in_(logins))))
    erase("logins", delete(User).where(User.id.in_(logins)))
    erase("contacts", delete(Caregiver).where(Caregiver.home_id == home_id))
    erase("residents", delete(Resident).where(Resident.id == resident_id))
    home = session.get(Home, home_id)
    if home is not None:
        home.address = home.door_notes = home.key_notes = home.phone = ""
        home.lat = home.lon = None
        home.doctor_notify, home.rules, home.active = [], {}, False
        session.flush()
        refresh_resident_name(session, home_id)
    counts["influx_series"] = series
    detail = {"resident": resident_id, "home": home_id, "erased": counts}
    session.add(AuditEntry(at=now, actor=actor, action=ERASED, alert_id=None, home=home_id,
                           detail=detail))
    session.commit()
    return detail
