"""The caregiver's page: the open alerts a person may see, live, with the actions they may take.

A plain HTML page with a little JavaScript (no build step) at `/c/<token>`; the token is a
signed, expiring link in every page the caregiver receives. Live updates arrive as
server-sent events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bedwatch.kinds import kind_text
from hub.alerts import ACTIVE_STATES
from hub.db import Alert, Caregiver, Home
from hub.registry import HUB_HOME, allowed_actions, can_see
from hub.web.actions import (
    ActionRequest,
    AlertAction,
    SilenceRequest,
    alert_or_404,
    check_page_person,
    move_alert,
    silence_home,
)
from hub.web.deps import ChangesDep, CurrentCaregiver, EngineDep, RowId, SessionDep

# Read when the app is built, so that a package without its page fails at start-up.
PAGE = resources.files("hub.web").joinpath("caregiver.html").read_text(encoding="utf-8")

router = APIRouter(prefix="/c/{token}", tags=["caregiver's page"])


def snapshot(session: Session, person: Caregiver) -> dict[str, Any]:
    """Return what the person's page shows: the paging alerts they may see, and their actions."""
    homes = {h.id: h for h in session.scalars(select(Home))}
    alerts = session.scalars(select(Alert).where(
        Alert.state.in_(ACTIVE_STATES), Alert.paging).order_by(Alert.id))
    shown = []
    for a in alerts:
        home = homes.get(a.home)
        site = home.site_id if home is not None else None
        if not can_see(person, a.home, site):
            continue
        resident, address = ((home.resident_name, home.address) if home is not None
                             else ("the hub itself", "") if a.home == HUB_HOME
                             else ("unregistered home", "not in the registry"))
        shown.append({**{k: a.as_dict()[k] for k in (
            "id", "home", "kind", "severity", "state", "first_event_t", "event_count",
            "acknowledged_by")}, "resident": resident, "address": address,
            "what": kind_text(a.kind, "en"),
            "actions": allowed_actions(person, a.home, site)})
    return {"caregiver": person.name, "role": person.role, "alerts": shown}


@router.get("", response_class=HTMLResponse, include_in_schema=False)
async def caregiver_page(person: CurrentCaregiver) -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/alerts")
async def caregiver_alerts(person: CurrentCaregiver, session: SessionDep) -> dict[str, Any]:
    return snapshot(session, person)


@router.get("/stream")
async def caregiver_stream(person: CurrentCaregiver, session: SessionDep, changes: ChangesDep,
                           request: Request) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        last = None
        while not await request.is_disconnected():
            current = json.dumps(snapshot(session, person), sort_keys=True)
            # Between updates the stream holds no transaction and no stale rows.
            session.rollback()
            if current != last:
                last = current
                yield f"data: {current}\n\n"
            else:
                yield ": keep-alive\n\n"
            await changes.wait(15.0)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


@router.post("/alerts/{alert_id}/{action}")
async def caregiver_act(person: CurrentCaregiver, alert_id: RowId, action: AlertAction,
                        body: ActionRequest, session: SessionDep, engine: EngineDep,
                        changes: ChangesDep) -> dict[str, Any]:
    alert = alert_or_404(session, alert_id, f"no alert #{alert_id} for you")
    check_page_person(session, person, action, alert.home, f"alert #{alert_id}")
    move_alert(engine, changes, alert_id, action, person.id, body)
    session.expire_all()  # the engine changed the alert in its own session
    return snapshot(session, person)


@router.post("/homes/{home_id}/silence")
async def caregiver_silence(person: CurrentCaregiver, home_id: str, body: SilenceRequest,
                            session: SessionDep, engine: EngineDep) -> dict[str, Any]:
    check_page_person(session, person, "silence", home_id, f"home {home_id}")
    return silence_home(engine, home_id, person.id, body)
