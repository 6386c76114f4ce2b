"""When a link fails: the page that says why (in the caregiver's language, never JSON), the
button that sends a fresh link, and the phone's device login that makes links unneeded.

The fresh-link answer is the same whatever happened, so that it tells nobody whether a link
or a person exists; the link itself goes only to the person's registered channels.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bedwatch.i18n import N_, pick_language
from hub import accounts, tokens
from hub.db import Alert, AuditEntry, Caregiver
from hub.registry import can_see, site_of
from hub.web import pages
from hub.web.deps import DEVICE_COOKIE, ContextDep, LinkProblem, WebContext
from hub.web.routes.auth import client_address
from hub.web.texts import organisation_language, page_language, plain

router = APIRouter(tags=["links"])

# Fresh links sent per person, and asked for per client address, within the window.
RENEW_PER_PERSON = 3
RENEW_PER_ADDRESS = 10
RENEW_WINDOW_S = 900.0


def throttles() -> dict[str, accounts.Throttle]:
    """Return the app state's fresh-link throttles, by name."""
    return {"renew_per_person": accounts.Throttle(RENEW_PER_PERSON, RENEW_WINDOW_S),
            "renew_per_address": accounts.Throttle(RENEW_PER_ADDRESS, RENEW_WINDOW_S)}


def _token_person(context: WebContext, token: str | None) -> str | None:
    """Return whose link a genuine token is (expired or not); None for a damaged one."""
    if not token:
        return None
    try:
        return tokens.read(context.secret, token).caregiver_id
    except tokens.TokenError:
        return None


async def show_problem(request: Request, exc: Exception) -> Response:
    """Render a LinkProblem as its page in the reader's language; an expired link still
    shows its alert's current state to its own person."""
    assert isinstance(exc, LinkProblem)
    context: WebContext = request.app.state.context
    alert = None
    with context.sessions() as session:
        person_id = exc.person_id or _token_person(context, exc.token)
        person = session.get(Caregiver, person_id) if person_id else None
        lang = page_language(request, person, session)
        if exc.alert_id and exc.person_id and person is not None:
            row = session.get(Alert, exc.alert_id)
            if row is not None and can_see(person, row.home, site_of(session, row.home)):
                session.expunge(row)
                alert = row
    return pages.problem_page(exc.reason, exc.status_code, lang=lang, token=exc.token,
                              alert=alert, renew=exc.renew)


def set_device_login(context: WebContext, request: Request, response: Response,
                     person_id: str, user_id: str | None = None) -> None:
    """Start a device login for this phone: a new long-lived token in an HttpOnly cookie."""
    agent = request.headers.get("user-agent", "")[:160]
    with context.sessions() as session:
        _, text = accounts.issue_token(session, kind="device", now=context.clock.now(),
                                       ttl_s=accounts.DEVICE_TTL_S, person_id=person_id,
                                       user_id=user_id, label=f"phone: {agent}")
        session.commit()
    secure = request.url.scheme == "https" or context.engine.public_url.startswith("https:")
    response.set_cookie(DEVICE_COOKIE, text, max_age=int(accounts.DEVICE_TTL_S), path="/",
                        httponly=True, secure=secure, samesite="lax")


def phone_person_id(context: WebContext, request: Request) -> str | None:
    """Return the person of this phone's live device login; None without one."""
    text = request.cookies.get(DEVICE_COOKIE)
    if not text:
        return None
    with context.sessions() as session:
        row = accounts.find_token(session, text)
        person = accounts.device_person(session, row, context.clock.now())
        return person.id if person is not None else None


def to_phone_page() -> RedirectResponse:
    return RedirectResponse("/c", status_code=303)


def _asker(context: WebContext, request: Request, token: str | None) -> str | None:
    """Return whose fresh link is asked for: a genuine link's person, or this phone's."""
    if token:
        try:
            return tokens.read(context.secret, token).caregiver_id
        except tokens.TokenError:
            return None
    text = request.cookies.get(DEVICE_COOKIE)
    with context.sessions() as session:
        row = accounts.find_token(session, text) if text else None
        return row.person_id if row is not None and row.kind == "device" else None


async def send_fresh_link(context: WebContext, person_id: str) -> None:
    """Send a person a fresh page link on their channels in order; audit the outcome."""
    with context.sessions() as session:
        person = session.get(Caregiver, person_id)
        if person is None or not person.active:
            return
        lang = pick_language(person.language, organisation_language(person, session))
        title = plain(N_("A fresh link"), lang).replace("\n", " / ")
        body = plain(N_("Here is your fresh link: {link}"), lang,
                     link=context.engine.desk_link(person.id))
        channel, ok = "", False
        for url in person.notify:
            result = await context.engine.dispatch.deliver(url, title, body)
            channel, ok = result.channel, result.ok
            if ok:
                break
        session.add(AuditEntry(at=context.clock.now(), actor=person.id, action="link_resent",
                               detail={"delivered": ok, "channel": channel}))
        session.commit()


@router.post("/link/renew", response_class=HTMLResponse, include_in_schema=False)
async def renew(context: ContextDep, request: Request, background: BackgroundTasks,
                token: Annotated[str | None, Form(max_length=4000)] = None) -> HTMLResponse:
    """Send a fresh page link to the person of an old link (or of this phone's old login).

    The answer is the same whatever happened; sending is throttled per person and address.
    """
    per_address: accounts.Throttle = request.app.state.renew_per_address
    per_person: accounts.Throttle = request.app.state.renew_per_person
    now = context.clock.now()
    address = [client_address(request)]
    lang = page_language(request)
    if per_address.wait_s(address, now) > 0:
        return pages.renewed_page(lang)
    per_address.note(address, now)
    person_id = _asker(context, request, token)
    if person_id is not None and per_person.wait_s([person_id], now) == 0:
        # Counted before sending, so a burst of requests cannot flood a person's phone.
        per_person.note([person_id], now)
        background.add_task(send_fresh_link, context, person_id)
    return pages.renewed_page(lang)
