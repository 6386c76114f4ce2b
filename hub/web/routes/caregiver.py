"""The caregiver's page: the open alerts a person may see, live, with the actions they may take.

A plain HTML page with a little JavaScript (no build step). It opens two ways:
- `/c/<link>`: the signed, expiring link in every page the caregiver receives; it offers to
  keep the phone logged in (a device login, `hub.accounts`);
- `/c`: the phone's device login (an HttpOnly cookie), long-lived and revocable, or a
  caregiver's own user name and password at `/c/login`.
Live updates arrive as server-sent events. A link or login that fails shows a page saying
why, in the caregiver's language (`routes/links.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bedwatch.i18n import N_, age
from hub import accounts
from hub.alerts import ACTIVE_STATES, STATES
from hub.config import InfluxSection
from hub.db import Alert, Caregiver, Home, Site
from hub.registry import can_see
from hub.web import pages
from hub.web.actions import (
    ACTIONS,
    ActionRequest,
    AlertAction,
    SilenceRequest,
    alert_or_404,
    check_page_person,
    move_alert,
    silence_home,
)
from hub.web.alert_view import alert_view
from hub.web.deps import (
    DEVICE_COOKIE,
    ChangesDep,
    ClockDep,
    ContextDep,
    CurrentCaregiver,
    DeviceCaregiver,
    EngineDep,
    LinkProblem,
    RowId,
    SessionDep,
    get_caregiver,
    get_device_caregiver,
)
from hub.web.routes.auth import check_login
from hub.web.routes.links import phone_person_id, set_device_login, to_phone_page
from hub.web.texts import LANG_COOKIE, both, page_language
from hub.web.vitals import VitalsReader

STREAM_S = 300.0  # longest life of one live stream
SEVERITY_ORDER = {"critical": 0, "high": 1, "low": 2, "info": 3}
LANG_COOKIE_S = 365 * 24 * 3600

# The phone's routes come first: `/c/login` is not a link called "login".
phone = APIRouter(prefix="/c", tags=["caregiver's page"])
link = APIRouter(prefix="/c/{token}", tags=["caregiver's page"])


def snapshot(session: Session, person: Caregiver, lang: str = "zh_CN",
             now: float | None = None) -> dict[str, Any]:
    """Return what the person's page shows: the paging alerts they may see, each with what,
    who, where, who else is on it, the time left and whom to call, in `lang`."""
    now = time.time() if now is None else now
    sites = {h.id: h.site_id for h in session.scalars(select(Home))}
    alerts = session.scalars(select(Alert).where(
        Alert.state.in_(ACTIVE_STATES), Alert.paging).order_by(Alert.id))
    visible = [a for a in alerts if can_see(person, a.home, sites.get(a.home))]
    # What nobody has taken comes first, the most severe first, then the oldest.
    visible.sort(key=lambda a: (ACTIVE_STATES.index(a.state), SEVERITY_ORDER.get(
        a.severity, len(SEVERITY_ORDER)), a.opened_at, a.id))
    shown = [alert_view(session, a, person, lang, now) for a in visible]
    return {"caregiver": person.name, "role": person.role, "lang": lang, "now": now,
            "alerts": shown}


def vitals_reader(request: Request) -> VitalsReader:
    """Return the app's reader of vital signs (made on first use, kept with the app)."""
    reader: VitalsReader | None = getattr(request.app.state, "vitals", None)
    if reader is None:
        section = getattr(request.app.state.context.engine.config, "influx", None)
        reader = VitalsReader(section if isinstance(section, InfluxSection) else None)
        request.app.state.vitals = reader
    return reader


async def page_data(request: Request, session: Session, person: Caregiver, lang: str,
                    now: float) -> dict[str, Any]:
    """Return the snapshot with each resident's last vital signs (None: not known now)."""
    data = snapshot(session, person, lang, now)
    homes = [a["home"] for a in data["alerts"]]
    found = await vitals_reader(request).latest(homes)
    for alert in data["alerts"]:
        values = found.get(alert["home"])
        if values:
            values = {name: {**one, "age": age(now - one["t"], lang)}
                      for name, one in values.items()}
        alert["vitals"] = values
    return data


def _add_page_routes(router: APIRouter, person_of: Callable[..., Awaitable[Caregiver]]) -> None:
    """Add the page's data routes to `router`, finding the person with `person_of`."""
    # A default, not an annotation: the annotations of this module are strings.
    person_dep = Depends(person_of)

    @router.get("/alerts")
    async def caregiver_alerts(request: Request, session: SessionDep, clock: ClockDep,
                               person: Caregiver = person_dep) -> dict[str, Any]:
        lang = page_language(request, person, session)
        return await page_data(request, session, person, lang, clock.now())

    @router.get("/stream")
    async def caregiver_stream(session: SessionDep, changes: ChangesDep, request: Request,
                               clock: ClockDep,
                               person: Caregiver = person_dep) -> StreamingResponse:
        lang = page_language(request, person, session)

        async def events() -> AsyncIterator[str]:
            last = None
            # The stream ends now and then: the page reconnects, and its link or login is
            # checked again (a revoked phone stops getting updates within minutes).
            until = time.monotonic() + STREAM_S
            while not await request.is_disconnected() and time.monotonic() < until:
                data = await page_data(request, session, person, lang, clock.now())
                # Between updates the stream holds no transaction and no stale rows.
                session.rollback()
                current = json.dumps(data, sort_keys=True)
                if current != last:
                    last = current
                    yield f"data: {current}\n\n"
                else:
                    yield ": keep-alive\n\n"
                await changes.wait(15.0)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @router.post("/alerts/{alert_id}/{action}")
    async def caregiver_act(alert_id: RowId, action: AlertAction, body: ActionRequest,
                            request: Request, session: SessionDep, engine: EngineDep,
                            changes: ChangesDep, clock: ClockDep,
                            person: Caregiver = person_dep) -> dict[str, Any]:
        """Take an action; one already taken (a retried, queued tap) answers the state now."""
        alert = alert_or_404(session, alert_id, f"no alert #{alert_id} for you")
        check_page_person(session, person, action, alert.home, f"alert #{alert_id}")
        target = ACTIONS[action].to
        assert target is not None
        applied = False
        if STATES.index(alert.state) < STATES.index(target):
            try:
                move_alert(engine, changes, alert_id, action, person.id, body)
                applied = True
            except HTTPException as exc:
                if exc.status_code != 409:  # 409: someone moved it on meanwhile
                    raise
        session.expire_all()  # the engine changed the alert in its own session
        now = clock.now()
        data = await page_data(request, session, person, page_language(
            request, person, session), now)
        state = session.get(Alert, alert_id)
        data["result"] = {"alert": alert_id, "action": action, "applied": applied,
                          "state": state.state if state is not None else None, "at": now}
        return data

    @router.post("/homes/{home_id}/silence")
    async def caregiver_silence(home_id: str, body: SilenceRequest, session: SessionDep,
                                engine: EngineDep,
                                person: Caregiver = person_dep) -> dict[str, Any]:
        check_page_person(session, person, "silence", home_id, f"home {home_id}")
        return silence_home(engine, home_id, person.id, body)


def _page(request: Request, session: Session, person: Caregiver) -> HTMLResponse:
    """Return the phone page in the person's language; the switch's choice is remembered."""
    lang = page_language(request, person, session)
    site = session.get(Site, person.site_id)
    response = pages.phone_page(lang, site.timezone if site is not None else "Asia/Shanghai")
    if request.query_params.get("lang"):
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_S, path="/",
                            samesite="lax")
    return response


@phone.get("", response_class=HTMLResponse, include_in_schema=False)
async def phone_page(request: Request, session: SessionDep,
                     person: DeviceCaregiver) -> HTMLResponse:
    """The page of this phone's device login."""
    return _page(request, session, person)


@phone.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request) -> HTMLResponse:
    return pages.login_page(lang=page_language(request))


@phone.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, context: ContextDep, session: SessionDep, clock: ClockDep,
                username: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=200)]) -> Response:
    """Log a caregiver or family member in on this phone with their own password."""
    lang = page_language(request)
    try:
        user = check_login(request, session, username, password, clock.now())
    except HTTPException as exc:
        wait = (exc.headers or {}).get("Retry-After", "")
        text = both("Too many attempts; try again in {s} s.", lang, s=wait) \
            if exc.status_code == 429 else both("Wrong user name or password.", lang)
        return pages.login_page(f'<p class="crit">{text}</p>', exc.status_code, lang)
    if user.person_id is None or user.role not in ("caregiver", "family"):
        text = both("This page is for caregivers and family.", lang)
        return pages.login_page(f'<p class="crit">{text}</p>', 403, lang)
    if user.must_change_password:
        text = both("Change your one-time password first (through the API).", lang)
        return pages.login_page(f'<p class="crit">{text}</p>', 403, lang)
    response = to_phone_page()
    set_device_login(context, request, response, user.person_id, user.id)
    return response


@phone.post("/logout", response_class=HTMLResponse, include_in_schema=False)
async def phone_logout(request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """End this phone's device login."""
    text = request.cookies.get(DEVICE_COOKIE)
    row = accounts.find_token(session, text) if text else None
    if row is not None and row.kind == "device" and row.revoked_at is None:
        row.revoked_at = clock.now()
        session.commit()
    done = both("This phone is logged out.", page_language(request))
    response = pages.layout(N_("bedwatch"), f'<p class="ok">{done}</p>',
                            lang=page_language(request))
    response.delete_cookie(DEVICE_COOKIE, path="/")
    return response


_add_page_routes(phone, get_device_caregiver)


@link.get("", response_class=HTMLResponse, include_in_schema=False)
async def link_page(token: str, request: Request, context: ContextDep, clock: ClockDep,
                    session: SessionDep) -> Response:
    """The page of a link; a phone already logged in as the same person goes to `/c`."""
    on_phone = phone_person_id(context, request)
    try:
        person = await get_caregiver(token, context, clock, session)
    except LinkProblem:
        if on_phone is not None:  # an old link on a phone that no longer needs one
            return to_phone_page()
        raise
    return to_phone_page() if on_phone == person.id else _page(request, session, person)


@link.post("/device", include_in_schema=False)
async def keep_logged_in(person: CurrentCaregiver, request: Request,
                         context: ContextDep) -> Response:
    """Keep this phone logged in as the link's person (a device login); go to `/c`."""
    response = to_phone_page()
    set_device_login(context, request, response, person.id)
    return response


_add_page_routes(link, get_caregiver)
