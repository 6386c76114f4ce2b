"""The one-tap acknowledge page that the link in every page opens.

A GET only shows the alert and one button, because chat apps prefetch links; the POST
acknowledges, idempotently for the same caregiver.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from bedwatch.kinds import kind_text
from hub import tokens
from hub.alerts import Clock
from hub.db import Alert, Home
from hub.web.actions import ActionRequest, alert_or_404, move_alert, named_person
from hub.web.deps import ChangesDep, ClockDep, ContextDep, EngineDep, SessionDep, WebContext

router = APIRouter(tags=["acknowledge link"])

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bedwatch — alert #{id}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.2rem;max-width:32rem}}
.crit{{color:#b00020}} button{{font-size:1.3rem;padding:.8rem 1.6rem;width:100%}}
.ok{{color:#1b5e20}}</style></head><body>
<h1 class="crit">{what}</h1><p><b>{home}</b> — {resident}<br>{address}</p>
<p>Alert #{id}, state: <b>{state}</b></p>{body}</body></html>"""


def _grant(session: Session, context: WebContext, clock: Clock,
           token: str) -> tuple[tokens.AckGrant, Alert]:
    """Return the grant and alert of an ack link whose person may still acknowledge it."""
    grant = tokens.verify(context.secret, token, clock.now())
    if grant.alert_id == 0:
        raise tokens.TokenError("this is a page link, not an acknowledge link")
    alert = alert_or_404(session, grant.alert_id)
    try:
        named_person(session, grant.caregiver_id, "ack", alert.home)
    except HTTPException as exc:
        raise tokens.TokenError(str(exc.detail)) from exc
    return grant, alert


def _page(session: Session, alert: Alert, body: str) -> HTMLResponse:
    home = session.get(Home, alert.home)
    return HTMLResponse(_PAGE.format(
        id=alert.id, what=html.escape(kind_text(alert.kind, "en")),
        home=html.escape(alert.home), resident=html.escape(home.resident_name if home else ""),
        address=html.escape(home.address if home else ""), state=html.escape(alert.state),
        body=body))


def _refused(exc: tokens.TokenError) -> HTMLResponse:
    return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=403)


@router.get("/ack/{token}", response_class=HTMLResponse)
async def ack_form(token: str, session: SessionDep, context: ContextDep,
                   clock: ClockDep) -> HTMLResponse:
    """Show the alert with one button. A GET changes nothing: chat apps prefetch links."""
    try:
        _, alert = _grant(session, context, clock, token)
    except tokens.TokenError as exc:
        return _refused(exc)
    return _page(session, alert, f'<form method="post" action="/ack/{html.escape(token)}">'
                                 '<button type="submit">I am taking it — acknowledge</button>'
                                 "</form>")


@router.post("/ack/{token}", response_class=HTMLResponse)
async def ack(token: str, session: SessionDep, context: ContextDep, clock: ClockDep,
              engine: EngineDep, changes: ChangesDep) -> HTMLResponse:
    """Acknowledge the alert of a signed link (idempotent for the same caregiver)."""
    try:
        grant, alert = _grant(session, context, clock, token)
    except tokens.TokenError as exc:
        return _refused(exc)
    if alert.state == "open":
        try:
            move_alert(engine, changes, alert.id, "ack", grant.caregiver_id, ActionRequest())
            message = "Acknowledged. Paging has stopped; please go now."
        except HTTPException as exc:  # the lifecycle refused (409)
            message = str(exc.detail)
    else:
        message = f"Already {alert.state} by {alert.acknowledged_by}."
    session.expire_all()  # the engine changed the alert in its own session
    try:
        _, alert = _grant(session, context, clock, token)
    except tokens.TokenError as exc:
        return _refused(exc)
    return _page(session, alert, f'<p class="ok"><b>{html.escape(message)}</b></p>')

