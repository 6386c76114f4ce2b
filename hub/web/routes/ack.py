"""The one-tap acknowledge page that the link in every page opens.

A GET only shows the alert and one button, because chat apps prefetch links; the POST
acknowledges, idempotently for the same caregiver. A link that cannot be served shows a
page saying why (never JSON); the page also offers to keep the phone logged in.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hub.db import Alert, Caregiver, Home
from hub.registry import can_see, may, site_of
from hub.web import pages
from hub.web.actions import ActionRequest, move_alert
from hub.web.deps import (
    MAX_ID,
    ChangesDep,
    ClockDep,
    ContextDep,
    EngineDep,
    LinkProblem,
    SessionDep,
    WebContext,
    active_person,
    link_grant,
)
from hub.web.routes.links import phone_person_id, set_device_login, to_phone_page
from hub.web.texts import both

router = APIRouter(tags=["acknowledge link"])


def _grant(session: Session, context: WebContext, now: float,
           token: str) -> tuple[Caregiver, Alert]:
    """Return the person and alert of an ack link whose person may still acknowledge it."""
    grant = link_grant(context.secret, token, now)
    if grant.alert_id == 0:
        raise LinkProblem("not_ack_link", 403, token=token)
    alert = session.get(Alert, grant.alert_id) if grant.alert_id <= MAX_ID else None
    if alert is None:
        raise LinkProblem("no_alert", 404, renew=False)
    person = active_person(session, grant.caregiver_id, token)
    site = site_of(session, alert.home)
    if not (can_see(person, alert.home, site) and may(person, "ack", alert.home, site)):
        raise LinkProblem("not_allowed", 403, renew=False)
    return person, alert


def _page(session: Session, alert: Alert, body: str) -> HTMLResponse:
    home = session.get(Home, alert.home)
    return pages.ack_page(alert, home.resident_name if home else "",
                          home.address if home else "", body)


def _keep_form(context: WebContext, request: Request, person: Caregiver, token: str) -> str:
    """Return the offer to keep this phone logged in, unless it already is as this person."""
    if phone_person_id(context, request) == person.id:
        return ""
    return (f'<form method="post" action="/ack/{html.escape(token)}/device">'
            f'<button type="submit" class="secondary">{both("keep_login")}</button></form>'
            f'<p class="en">{both("keep_login_hint")}</p>')


@router.get("/ack/{token}", response_class=HTMLResponse)
async def ack_form(token: str, request: Request, session: SessionDep, context: ContextDep,
                   clock: ClockDep) -> HTMLResponse:
    """Show the alert with one button. A GET changes nothing: chat apps prefetch links."""
    person, alert = _grant(session, context, clock.now(), token)
    return _page(session, alert, f'<form method="post" action="/ack/{html.escape(token)}">'
                                 f'<button type="submit">{both("ack_button")}</button></form>'
                                 + _keep_form(context, request, person, token))


@router.post("/ack/{token}", response_class=HTMLResponse)
async def ack(token: str, request: Request, session: SessionDep, context: ContextDep,
              clock: ClockDep, engine: EngineDep, changes: ChangesDep) -> HTMLResponse:
    """Acknowledge the alert of a signed link (idempotent for the same caregiver)."""
    person, alert = _grant(session, context, clock.now(), token)
    if alert.state == "open":
        try:
            move_alert(engine, changes, alert.id, "ack", person.id, ActionRequest())
            message = both("acked")
        except HTTPException as exc:  # the lifecycle refused (409)
            message = html.escape(str(exc.detail))
    else:
        message = both("already", state=alert.state, by=alert.acknowledged_by or "")
    session.expire_all()  # the engine changed the alert in its own session
    person, alert = _grant(session, context, clock.now(), token)
    return _page(session, alert, f'<p class="ok"><b>{message}</b></p>'
                                 + _keep_form(context, request, person, token))


@router.post("/ack/{token}/device", include_in_schema=False)
async def keep_logged_in(token: str, request: Request, session: SessionDep,
                         context: ContextDep, clock: ClockDep) -> Response:
    """Keep this phone logged in as the link's person (a device login); go to `/c`."""
    person, _ = _grant(session, context, clock.now(), token)
    response = to_phone_page()
    set_device_login(context, request, response, person.id)
    return response
