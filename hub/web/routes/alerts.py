"""Alerts through the REST API: list, read, and act on them as the login's person."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.alerts import ACTIVE_STATES
from hub.db import Alert, Delivery
from hub.web.actions import AlertAction, NamedActionRequest, acting_person, move_alert
from hub.web.auth import Principal, require
from hub.web.deps import ChangesDep, EngineDep, RowId, SessionDep
from hub.web.scope import home_filter, visible_alert

router = APIRouter(prefix="/alerts", tags=["alerts"])

Reader = Annotated[Principal, require("admin", "desk", "caregiver", "family", "integration")]
Actor = Annotated[Principal, require("admin", "desk", "caregiver")]


@router.get("")
async def list_alerts(
    principal: Reader,
    session: SessionDep,
    state: Annotated[str, Query(pattern="^(open|acknowledged|on_site|resolved|active|all)$")]
    = "active",
    home: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """List the alerts the caller sees, newest first; `active` means not yet resolved."""
    query = (select(Alert).where(home_filter(session, principal, Alert.home))
             .order_by(Alert.id.desc()).limit(limit))
    if state == "active":
        query = query.where(Alert.state.in_(ACTIVE_STATES))
    elif state != "all":
        query = query.where(Alert.state == state)
    if home:
        query = query.where(Alert.home == home)
    return [a.as_dict() for a in session.scalars(query)]


@router.get("/{alert_id}")
async def get_alert(alert_id: RowId, principal: Reader, session: SessionDep) -> dict[str, Any]:
    """Return an alert with every delivery attempt of its pages (404 when out of scope)."""
    alert = visible_alert(session, principal, alert_id)
    deliveries = session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)
                                 .order_by(Delivery.id))
    return {**alert.as_dict(), "deliveries": [
        {"caregiver": d.caregiver_id, "channel": d.channel, "ok": d.ok,
         "error": d.error, "at": d.at} for d in deliveries]}


@router.post("/{alert_id}/{action}")
async def act(alert_id: RowId, action: AlertAction, body: NamedActionRequest,
              principal: Actor, session: SessionDep, engine: EngineDep,
              changes: ChangesDep) -> dict[str, Any]:
    """Acknowledge, arrive at or resolve an alert, as the login's person when they may."""
    alert = visible_alert(session, principal, alert_id)
    person = acting_person(session, principal, action, alert.home, body.caregiver)
    return move_alert(engine, changes, alert_id, action, person.id, body).as_dict()
