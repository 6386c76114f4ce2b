"""The caregiver's page: open alerts of their site, live, with acknowledge / on site / resolve.

A plain HTML page with a little JavaScript (no build step) at `/c/<token>`; the token is a
signed, expiring link in every page the caregiver receives. Live updates arrive as
server-sent events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import tokens
from hub.alerts import ACTIVE_STATES, TransitionError
from hub.db import Alert, Caregiver, Home

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
            homes = {h.id: h for h in session.scalars(select(Home).where(
                Home.site_id == person.site_id))}
            if person.home_id is not None:
                homes = {k: v for k, v in homes.items() if k == person.home_id}
            alerts = session.scalars(select(Alert).where(
                Alert.home.in_(homes), Alert.state.in_(ACTIVE_STATES), Alert.paging)
                .order_by(Alert.id))
            return {"caregiver": person.name, "alerts": [
                {**{k: a.as_dict()[k] for k in ("id", "home", "kind", "severity", "state",
                                                 "first_event_t", "event_count",
                                                 "acknowledged_by")},
                 "resident": homes[a.home].resident_name, "address": homes[a.home].address}
                for a in alerts]}

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
    async def caregiver_act(token: str, alert_id: int,
                            action: Literal["ack", "on_site", "resolve"],
                            body: CaregiverAction) -> dict[str, Any]:
        person = caregiver_of(token)
        with hub.sessions() as session:
            alert = session.get(Alert, alert_id)
            home = session.get(Home, alert.home) if alert else None
        if alert is None or home is None or home.site_id != person.site_id:
            raise HTTPException(404, f"no alert #{alert_id} for you")
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
        with hub.sessions() as session:
            home = session.get(Home, home_id)
        if home is None or home.site_id != person.site_id:
            raise HTTPException(404, f"no home {home_id} for you")
        try:
            entry = hub.alerts.silence(home_id, person.id, body.minutes * 60, body.reason)
        except TransitionError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"home": home_id, "until": entry.end, "by": person.id}
