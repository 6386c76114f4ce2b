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
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bedwatch.kinds import kind_text
from hub import accounts
from hub.alerts import ACTIVE_STATES
from hub.db import Alert, Caregiver, Home
from hub.registry import HUB_HOME, allowed_actions, can_see
from hub.web import pages
from hub.web.actions import (
    ActionRequest,
    AlertAction,
    SilenceRequest,
    alert_or_404,
    check_page_person,
    move_alert,
    silence_home,
)
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
from hub.web.texts import both

# Read when the app is built, so that a package without its page fails at start-up.
PAGE = resources.files("hub.web").joinpath("caregiver.html").read_text(encoding="utf-8")

STREAM_S = 300.0  # longest life of one live stream

# The phone's routes come first: `/c/login` is not a link called "login".
phone = APIRouter(prefix="/c", tags=["caregiver's page"])
link = APIRouter(prefix="/c/{token}", tags=["caregiver's page"])


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


def _add_page_routes(router: APIRouter, person_of: Callable[..., Awaitable[Caregiver]]) -> None:
    """Add the page's data routes to `router`, finding the person with `person_of`."""
    # A default, not an annotation: the annotations of this module are strings.
    person_dep = Depends(person_of)

    @router.get("/alerts")
    async def caregiver_alerts(session: SessionDep,
                               person: Caregiver = person_dep) -> dict[str, Any]:
        return snapshot(session, person)

    @router.get("/stream")
    async def caregiver_stream(session: SessionDep, changes: ChangesDep, request: Request,
                               person: Caregiver = person_dep) -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            last = None
            # The stream ends now and then: the page reconnects, and its link or login is
            # checked again (a revoked phone stops getting updates within minutes).
            until = time.monotonic() + STREAM_S
            while not await request.is_disconnected() and time.monotonic() < until:
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
    async def caregiver_act(alert_id: RowId, action: AlertAction, body: ActionRequest,
                            session: SessionDep, engine: EngineDep, changes: ChangesDep,
                            person: Caregiver = person_dep) -> dict[str, Any]:
        alert = alert_or_404(session, alert_id, f"no alert #{alert_id} for you")
        check_page_person(session, person, action, alert.home, f"alert #{alert_id}")
        move_alert(engine, changes, alert_id, action, person.id, body)
        session.expire_all()  # the engine changed the alert in its own session
        return snapshot(session, person)

    @router.post("/homes/{home_id}/silence")
    async def caregiver_silence(home_id: str, body: SilenceRequest, session: SessionDep,
                                engine: EngineDep,
                                person: Caregiver = person_dep) -> dict[str, Any]:
        check_page_person(session, person, "silence", home_id, f"home {home_id}")
        return silence_home(engine, home_id, person.id, body)


def _page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-store"})


@phone.get("", response_class=HTMLResponse, include_in_schema=False)
async def phone_page(person: DeviceCaregiver) -> HTMLResponse:
    """The page of this phone's device login."""
    return _page()


@phone.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form() -> HTMLResponse:
    return pages.login_page()


@phone.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, context: ContextDep, session: SessionDep, clock: ClockDep,
                username: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=200)]) -> Response:
    """Log a caregiver or family member in on this phone with their own password."""
    try:
        user = check_login(request, session, username, password, clock.now())
    except HTTPException as exc:
        key = "login_limited" if exc.status_code == 429 else "login_failed"
        wait = (exc.headers or {}).get("Retry-After", "")
        return pages.login_page(f'<p class="crit">{both(key, s=wait)}</p>', exc.status_code)
    if user.person_id is None or user.role not in ("caregiver", "family"):
        return pages.login_page(f'<p class="crit">{both("login_not_caregiver")}</p>', 403)
    if user.must_change_password:
        return pages.login_page(f'<p class="crit">{both("must_change")}</p>', 403)
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
    response = pages.layout("product", f'<p class="ok">{both("logged_out")}</p>')
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
    return to_phone_page() if on_phone == person.id else _page()


@link.post("/device", include_in_schema=False)
async def keep_logged_in(person: CurrentCaregiver, request: Request,
                         context: ContextDep) -> Response:
    """Keep this phone logged in as the link's person (a device login); go to `/c`."""
    response = to_phone_page()
    set_device_login(context, request, response, person.id)
    return response


_add_page_routes(link, get_caregiver)
