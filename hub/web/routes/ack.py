"""The one-tap acknowledge page that the link in every page opens.

A GET only shows the alert and one button, because chat apps prefetch links; the POST
acknowledges. An alert taken already offers no button: it says who took it and when. A link
that cannot be served shows a page saying why (never JSON), in the reader's language; the
page also offers to keep the phone logged in.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from bedwatch.i18n import local_time
from hub.db import Alert, Caregiver, Home, Site
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
from hub.web.texts import both, page_language

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


def _page(session: Session, alert: Alert, body: str, lang: str) -> HTMLResponse:
    home = session.get(Home, alert.home)
    return pages.ack_page(alert, home.resident_name if home else "",
                          home.address if home else "", body, lang)


def _keep_form(context: WebContext, request: Request, person: Caregiver, token: str,
               lang: str) -> str:
    """Return the offer to keep this phone logged in, unless it already is as this person."""
    if phone_person_id(context, request) == person.id:
        return ""
    keep = both("Keep me logged in on this phone", lang)
    hint = both("Your page then opens after the links expire. An administrator can end this "
                "login at any time.", lang)
    return (f'<form method="post" action="/ack/{html.escape(token)}/device">'
            f'<button type="submit" class="secondary">{keep}</button></form>'
            f'<p class="en">{hint}</p>')


def _taken(session: Session, alert: Alert, lang: str, now: float) -> str:
    """Return who took an alert and when, by name (HTML)."""
    home = session.get(Home, alert.home)
    site = session.get(Site, home.site_id) if home is not None else None
    zone = site.timezone if site is not None else None
    taker = session.get(Caregiver, alert.acknowledged_by) if alert.acknowledged_by else None
    name = taker.name if taker is not None else ""
    at = local_time(alert.acknowledged_at, now=now, lang=lang, zone=zone) \
        if alert.acknowledged_at else ""
    text = both("Taken by {name} at {time}.", lang, name=name, time=at)
    return f'<p class="ok" data-testid="taken"><b>{text}</b></p>'


@router.get("/ack/{token}", response_class=HTMLResponse)
async def ack_form(token: str, request: Request, session: SessionDep, context: ContextDep,
                   clock: ClockDep) -> HTMLResponse:
    """Show the alert with one button while it is open. A GET changes nothing: chat apps
    prefetch links."""
    person, alert = _grant(session, context, clock.now(), token)
    lang = page_language(request, person, session)
    if alert.state != "open":  # acknowledged already: nothing to acknowledge again
        return _page(session, alert, _taken(session, alert, lang, clock.now())
                     + _keep_form(context, request, person, token, lang), lang)
    button = both("I am taking it — acknowledge", lang)
    return _page(session, alert, f'<form method="post" action="/ack/{html.escape(token)}">'
                                 f'<button type="submit" data-testid="ack">{button}</button>'
                                 f'</form>' + _keep_form(context, request, person, token, lang),
                 lang)


@router.post("/ack/{token}", response_class=HTMLResponse)
async def ack(token: str, request: Request, session: SessionDep, context: ContextDep,
              clock: ClockDep, engine: EngineDep, changes: ChangesDep) -> HTMLResponse:
    """Acknowledge the alert of a signed link; an alert taken already shows who took it."""
    person, alert = _grant(session, context, clock.now(), token)
    lang = page_language(request, person, session)
    message = ""
    if alert.state == "open":
        try:
            move_alert(engine, changes, alert.id, "ack", person.id, ActionRequest())
            done = both("Acknowledged. Paging has stopped; please go now.", lang)
            message = f'<p class="ok" data-testid="acked"><b>{done}</b></p>'
        except HTTPException:  # someone else took it meanwhile: say who, below
            message = ""
    session.expire_all()  # the engine changed the alert in its own session
    person, alert = _grant(session, context, clock.now(), token)
    if not message:
        message = _taken(session, alert, lang, clock.now())
    return _page(session, alert, message + _keep_form(context, request, person, token, lang),
                 lang)


@router.post("/ack/{token}/device", include_in_schema=False)
async def keep_logged_in(token: str, request: Request, session: SessionDep,
                         context: ContextDep, clock: ClockDep) -> Response:
    """Keep this phone logged in as the link's person (a device login); go to `/c`."""
    person, _ = _grant(session, context, clock.now(), token)
    response = to_phone_page()
    set_device_login(context, request, response, person.id)
    return response
