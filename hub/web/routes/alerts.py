"""Alerts through the REST API: list, read, and act on them by name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.alerts import ACTIVE_STATES
from hub.db import Alert, Delivery
from hub.web.actions import (
    AlertAction,
    NamedActionRequest,
    alert_or_404,
    move_alert,
    named_person,
)
from hub.web.deps import ChangesDep, EngineDep, RowId, SessionDep

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("")
async def list_alerts(
    session: SessionDep,
    state: Annotated[str, Query(pattern="^(open|acknowledged|on_site|resolved|active|all)$")]
    = "active",
    home: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """List alerts, newest first; `active` means not yet resolved."""
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if state == "active":
        query = query.where(Alert.state.in_(ACTIVE_STATES))
    elif state != "all":
        query = query.where(Alert.state == state)
    if home:
        query = query.where(Alert.home == home)
    return [a.as_dict() for a in session.scalars(query)]


@router.get("/{alert_id}")
async def get_alert(alert_id: RowId, session: SessionDep) -> dict[str, Any]:
    alert = alert_or_404(session, alert_id)
    deliveries = session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)
                                 .order_by(Delivery.id))
    return {**alert.as_dict(), "deliveries": [
        {"caregiver": d.caregiver_id, "channel": d.channel, "ok": d.ok,
         "error": d.error, "at": d.at} for d in deliveries]}


@router.post("/{alert_id}/{action}")
async def act(alert_id: RowId, action: AlertAction, body: NamedActionRequest,
              session: SessionDep, engine: EngineDep, changes: ChangesDep) -> dict[str, Any]:
    """Acknowledge, arrive at or resolve an alert, as a person who may."""
    named_person(session, body.caregiver, action, alert_or_404(session, alert_id).home)
    return move_alert(engine, changes, alert_id, action, body.caregiver, body).as_dict()
