"""The hub's REST API and the acknowledge page that the link in every page opens."""

from __future__ import annotations

import base64
import hmac
import html
import time
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from bedwatch.kinds import kind_text
from hub import tokens
from hub.alerts import ACTIVE_STATES, RESOLUTIONS, TransitionError
from hub.caregiver_page import add_caregiver_routes
from hub.db import AgentState, Alert, AuditEntry, Caregiver, DeadLetter, Delivery, EventRecord, Home
from hub.registry import may, site_of

if TYPE_CHECKING:
    from hub.service import Hub


# The largest row id SQL stores hold (signed 64 bit): a larger one is a 422, never a 500.
MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="Row id.")]


def clean_text(value: Any) -> Any:
    """Return `value` with every string made encodable as UTF-8 (lone surrogates escaped).

    Rows written by older versions may hold text that no response could otherwise carry.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_text(v) for v in value]
    return value


class CleanJSONResponse(JSONResponse):
    """JSON that never fails on text it was given: bad text is escaped, not a 500."""

    def render(self, content: Any) -> bytes:
        return super().render(clean_text(content))


def bytes_text(payload: bytes) -> str:
    """Return bytes as text, with what is not UTF-8 escaped (\\xNN) so it can be read."""
    return payload.decode("utf-8", "backslashreplace")


class Transition(BaseModel):
    """A caregiver acting on an alert."""

    model_config = ConfigDict(extra="forbid")

    caregiver: str = Field(min_length=1, max_length=64, description="Who acts.")
    resolution: Literal["real", "false_alarm", "test", "resolved_remotely"] | None = Field(
        None, description="What was found (resolve only).")
    note: str | None = Field(None, max_length=2000, description="Free text (resolve only).")


class Silencing(BaseModel):
    """A caregiver on site holding a home's pages."""

    model_config = ConfigDict(extra="forbid")

    caregiver: str = Field(min_length=1, max_length=64, description="Who silences.")
    minutes: float = Field(gt=0, description="For how long.")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the audit).")


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bedwatch — alert #{id}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.2rem;max-width:32rem}}
.crit{{color:#b00020}} button{{font-size:1.3rem;padding:.8rem 1.6rem;width:100%}}
.ok{{color:#1b5e20}}</style></head><body>
<h1 class="crit">{what}</h1><p><b>{home}</b> — {resident}<br>{address}</p>
<p>Alert #{id}, state: <b>{state}</b></p>{body}</body></html>"""


def create_app(hub: Hub) -> FastAPI:
    """Return the FastAPI application of a running hub."""
    app = FastAPI(title="bedwatch hub", version="0.1.0", default_response_class=CleanJSONResponse)
    expected = f"Bearer {hub.config.api.token}".encode() if hub.config.api.token else None

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        if expected is not None and request.url.path.startswith("/api/"):
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return JSONResponse({"detail": "missing or wrong bearer token"}, 401)
        response: Response = await call_next(request)
        return response

    def _alert(alert_id: int) -> Alert:
        if not 1 <= alert_id <= MAX_ID:
            raise HTTPException(404, f"no alert #{alert_id}")
        with hub.sessions() as session:
            alert = session.get(Alert, alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert #{alert_id}")
        return alert

    def _person(person_id: str, action: str, home: str) -> Caregiver:
        """Return the active person who may do `action` on a home's alerts; else 403."""
        with hub.sessions() as session:
            person = session.get(Caregiver, person_id)
            site = site_of(session, home)
        if person is None or not person.active:
            raise HTTPException(403, f"{person_id} is not a registered, active person")
        if not may(person, action, home, site):
            raise HTTPException(403, f"{person_id} ({person.role}) may not {action} here")
        return person

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        checks = {"mqtt": hub.ingest.connected, "influxdb": hub.writer.reachable}
        try:
            with hub.sessions() as session:
                session.execute(select(1))
            checks["database"] = True
        except Exception:
            checks["database"] = False
        ok = all(checks.values())
        return JSONResponse({"ok": ok, **checks}, status_code=200 if ok else 503)

    @app.get("/api/alerts")
    async def list_alerts(
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
        with hub.sessions() as session:
            return [a.as_dict() for a in session.scalars(query)]

    @app.get("/api/alerts/{alert_id}")
    async def get_alert(alert_id: RowId) -> dict[str, Any]:
        alert = _alert(alert_id)
        with hub.sessions() as session:
            deliveries = session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)
                                         .order_by(Delivery.id))
            return {**alert.as_dict(), "deliveries": [
                {"caregiver": d.caregiver_id, "channel": d.channel, "ok": d.ok,
                 "error": d.error, "at": d.at} for d in deliveries]}

    @app.post("/api/alerts/{alert_id}/{action}")
    async def act(alert_id: RowId, action: Literal["ack", "on_site", "resolve"],
                  body: Transition) -> dict[str, Any]:
        """Acknowledge, arrive at or resolve an alert, as a person who may."""
        _person(body.caregiver, action, _alert(alert_id).home)
        to = {"ack": "acknowledged", "on_site": "on_site", "resolve": "resolved"}[action]
        if to == "resolved" and body.resolution is None:
            raise HTTPException(422, f"resolution is required: one of {', '.join(RESOLUTIONS)}")
        try:
            alert = hub.alerts.transition(alert_id, to, body.caregiver,
                                          resolution=body.resolution, note=body.note)
        except TransitionError as exc:
            raise HTTPException(409, str(exc)) from exc
        hub.notify_change()
        return alert.as_dict()

    @app.get("/api/events")
    async def list_events(home: str | None = None,
                          limit: Annotated[int, Query(ge=1, le=5000)] = 500
                          ) -> list[dict[str, Any]]:
        """List received events in the order the hub received them (oldest first)."""
        query = select(EventRecord).order_by(EventRecord.received_order.desc()).limit(limit)
        if home:
            query = query.where(EventRecord.home == home)
        with hub.sessions() as session:
            rows = list(session.scalars(query))
        return [{"id": r.id, "home": r.home, "device": r.device, "kind": r.kind,
                 "severity": r.severity, "seq": r.seq, "t": r.t, "data": r.data,
                 "received_at": r.received_at, "alert_id": r.alert_id} for r in reversed(rows)]

    @app.get("/api/homes")
    async def list_homes() -> list[dict[str, Any]]:
        with hub.sessions() as session:
            agents = {a.home: a for a in session.scalars(select(AgentState))}
            return [{"id": h.id, "site": h.site_id, "address": h.address,
                     "resident": h.resident_name,
                     "agent": agents[h.id].state if h.id in agents else "unknown"}
                    for h in session.scalars(select(Home).order_by(Home.id))]

    @app.get("/api/audit")
    async def audit(alert_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if alert_id is not None:
            query = query.where(AuditEntry.alert_id == alert_id)
        with hub.sessions() as session:
            return [{"at": e.at, "actor": e.actor, "action": e.action, "alert_id": e.alert_id,
                     "home": e.home, "detail": e.detail} for e in session.scalars(query)]

    @app.post("/api/homes/{home_id}/silence")
    async def silence(home_id: str, body: Silencing) -> dict[str, Any]:
        """Hold a home's pages for a stated time while a caregiver is there (audited)."""
        with hub.sessions() as session:
            if session.get(Home, home_id) is None:
                raise HTTPException(404, f"no home {home_id}")
        _person(body.caregiver, "silence", home_id)
        try:
            entry = hub.alerts.silence(home_id, body.caregiver, body.minutes * 60, body.reason)
        except KeyError as exc:
            raise HTTPException(404, f"no home {home_id}") from exc
        except TransitionError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"home": home_id, "until": entry.end, "by": entry.by}

    @app.get("/api/stats/alerts")
    async def alert_stats() -> dict[str, Any]:
        """Return per kind: alerts, how they were resolved, and the share of false alarms."""
        with hub.sessions() as session:
            rows = session.execute(select(Alert.kind, Alert.resolution, func.count())
                                   .group_by(Alert.kind, Alert.resolution)).all()
            breaches = session.execute(select(
                func.count().filter(Alert.ack_breached), func.count().filter(
                    Alert.arrival_breached))).one()
        kinds: dict[str, dict[str, Any]] = {}
        for kind, resolution, count in rows:
            entry = kinds.setdefault(kind, {"alerts": 0, "resolutions": {}})
            entry["alerts"] += count
            entry["resolutions"][resolution or "unresolved"] = count
        for entry in kinds.values():
            judged = sum(v for k, v in entry["resolutions"].items()
                         if k in ("real", "false_alarm"))
            entry["false_alarm_share"] = (
                round(entry["resolutions"].get("false_alarm", 0) / judged, 3) if judged else None)
        return {"kinds": kinds, "sla_ack_breaches": breaches[0],
                "sla_arrival_breaches": breaches[1]}

    @app.get("/api/dead-letters")
    async def dead_letters(limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                           offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
                           home: str | None = None) -> dict[str, Any]:
        """List messages ingest could not store, newest first, with their bytes."""
        query = select(DeadLetter)
        count = select(func.count()).select_from(DeadLetter)
        if home:
            query, count = query.where(DeadLetter.home == home), count.where(
                DeadLetter.home == home)
        with hub.sessions() as session:
            total = session.scalar(count) or 0
            rows = list(session.scalars(query.order_by(DeadLetter.id.desc())
                                        .limit(limit).offset(offset)))
        return {"total": total, "limit": limit, "offset": offset, "items": [
            {"id": r.id, "at": r.at, "topic": r.topic, "home": r.home, "error": r.error,
             "attempts": r.attempts, "payload_text": bytes_text(r.payload),
             "payload_base64": base64.b64encode(r.payload).decode("ascii")} for r in rows]}

    @app.get("/api/stats")
    async def stats() -> dict[str, Any]:
        with hub.sessions() as session:
            dead = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
        return {
            "dead_letters": dead,
            "uptime_s": round(time.monotonic() - hub.started, 1),
            "ingest": dict(hub.ingest.counters), "rejected": dict(hub.ingest.rejected),
            "duplicates": hub.duplicates, "influx": {**hub.writer.counters,
                                                     "pending": hub.writer.pending},
            "alerts": hub.alerts.counters,
        }

    def _ack_grant(token: str) -> tuple[tokens.AckGrant, Alert]:
        """Return the grant and alert of an ack link whose person may still acknowledge it."""
        grant = tokens.verify(hub.alerts.secret, token, hub.clock.now())
        if grant.alert_id == 0:
            raise tokens.TokenError("this is a page link, not an acknowledge link")
        alert = _alert(grant.alert_id)
        try:
            _person(grant.caregiver_id, "ack", alert.home)
        except HTTPException as exc:
            raise tokens.TokenError(str(exc.detail)) from exc
        return grant, alert

    def _ack_page(token: str, body: str, status: int = 200) -> HTMLResponse:
        _, alert = _ack_grant(token)
        with hub.sessions() as session:
            home = session.get(Home, alert.home)
        page = _PAGE.format(
            id=alert.id, what=html.escape(kind_text(alert.kind, "en")),
            home=html.escape(alert.home), resident=html.escape(home.resident_name if home else ""),
            address=html.escape(home.address if home else ""), state=html.escape(alert.state),
            body=body)
        return HTMLResponse(page, status_code=status)

    @app.get("/ack/{token}", response_class=HTMLResponse)
    async def ack_form(token: str) -> HTMLResponse:
        """Show the alert with one button. A GET changes nothing: chat apps prefetch links."""
        try:
            return _ack_page(token, f'<form method="post" action="/ack/{html.escape(token)}">'
                                    '<button type="submit">I am taking it — acknowledge</button>'
                                    "</form>")
        except tokens.TokenError as exc:
            return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=403)

    @app.post("/ack/{token}", response_class=HTMLResponse)
    async def ack(token: str) -> HTMLResponse:
        """Acknowledge the alert of a signed link (idempotent for the same caregiver)."""
        try:
            grant, alert = _ack_grant(token)
        except tokens.TokenError as exc:
            return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=403)
        if alert.state == "open":
            try:
                hub.alerts.transition(alert.id, "acknowledged", grant.caregiver_id)
                hub.notify_change()
                message = "Acknowledged. Paging has stopped; please go now."
            except TransitionError as exc:
                message = str(exc)
        else:
            message = f"Already {alert.state} by {alert.acknowledged_by}."
        return _ack_page(token, f'<p class="ok"><b>{html.escape(message)}</b></p>')

    add_caregiver_routes(app, hub)
    return app
