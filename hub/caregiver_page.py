"""The caregiver's page: the open alerts a person may see, live, with the actions they may take.

A plain HTML page with a little JavaScript (no build step) at `/c/<token>`; the token is a
signed, expiring link in every page the caregiver receives. Live updates arrive as
server-sent events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from bedwatch.kinds import kind_text
from hub import tokens
from hub.alerts import ACTIVE_STATES, TransitionError
from hub.db import Alert, Caregiver, Home
from hub.registry import HUB_HOME, allowed_actions, can_see, may

if TYPE_CHECKING:
    from hub.service import Hub


class CaregiverAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: Literal["real", "false_alarm", "test", "resolved_remotely"] | None = None
    note: str | None = Field(None, max_length=2000)


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: float = Field(gt=0, description="How long to hold this home's pages.")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the audit).")


def add_caregiver_routes(app: FastAPI, hub: Hub) -> None:
    """Serve the caregiver's page and its JSON, stream and actions."""
    page = resources.files("hub").joinpath("web/caregiver.html").read_text(encoding="utf-8")

    def caregiver_of(token: str) -> Caregiver:
        try:
            grant = tokens.verify(hub.alerts.secret, token, hub.clock.now())
        except tokens.TokenError as exc:
            raise HTTPException(403, str(exc)) from exc
        if grant.alert_id != 0:
            raise HTTPException(403, "this link acknowledges one alert; it is not a page link")
        with hub.sessions() as session:
            person = session.get(Caregiver, grant.caregiver_id)
        if person is None or not person.active:
            raise HTTPException(403, "this caregiver is no longer registered")
        return person

    def snapshot(person: Caregiver) -> dict[str, Any]:
        with hub.sessions() as session:
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

    def refuse(person: Caregiver, action: str, home_id: str, what: str) -> None:
        """Raise 404 for what the person may not see, 403 for what they may not do."""
        with hub.sessions() as session:
            home = session.get(Home, home_id)
        site = home.site_id if home is not None else None
        if not can_see(person, home_id, site):
            raise HTTPException(404, f"no {what} for you")
        if not may(person, action, home_id, site):
            raise HTTPException(403, f"a {person.role} may not {action} here")

    @app.get("/c/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def caregiver_page(token: str) -> HTMLResponse:
        caregiver_of(token)
        return HTMLResponse(page)

    @app.get("/c/{token}/alerts")
    async def caregiver_alerts(token: str) -> dict[str, Any]:
        return snapshot(caregiver_of(token))

    @app.get("/c/{token}/stream")
    async def caregiver_stream(token: str, request: Request) -> StreamingResponse:
        person = caregiver_of(token)

        async def events() -> AsyncIterator[str]:
            last = None
            while not await request.is_disconnected():
                current = json.dumps(snapshot(person), sort_keys=True)
                if current != last:
                    last = current
                    yield f"data: {current}\n\n"
                else:
                    yield ": keep-alive\n\n"
                await hub.wait_change(15.0)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.post("/c/{token}/alerts/{alert_id}/{action}")
    async def caregiver_act(token: str, alert_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
                            action: Literal["ack", "on_site", "resolve"],
                            body: CaregiverAction) -> dict[str, Any]:
        person = caregiver_of(token)
        with hub.sessions() as session:
            alert = session.get(Alert, alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert #{alert_id} for you")
        refuse(person, action, alert.home, f"alert #{alert_id}")
        to = {"ack": "acknowledged", "on_site": "on_site", "resolve": "resolved"}[action]
        if to == "resolved" and body.resolution is None:
            raise HTTPException(422, "say what was found to resolve an alert")
        try:
            hub.alerts.transition(alert_id, to, person.id, resolution=body.resolution,
                                  note=body.note)
        except TransitionError as exc:
            raise HTTPException(409, str(exc)) from exc
        hub.notify_change()
        return snapshot(person)

    @app.post("/c/{token}/homes/{home_id}/silence")
    async def caregiver_silence(token: str, home_id: str, body: SilenceRequest
                                ) -> dict[str, Any]:
        person = caregiver_of(token)
        refuse(person, "silence", home_id, f"home {home_id}")
        try:
            entry = hub.alerts.silence(home_id, person.id, body.minutes * 60, body.reason)
        except KeyError as exc:
            raise HTTPException(404, f"no home {home_id}") from exc
        except TransitionError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"home": home_id, "until": entry.end, "by": person.id}
