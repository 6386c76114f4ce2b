"""What the web app's routes depend on, as `Annotated` aliases of FastAPI dependencies.

`create_app` is given a `WebContext`; routes reach the hub's parts only through the
functions here, so a test replaces one with `app.dependency_overrides[get_clock] = ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from hub import accounts, tokens
from hub.alerts import AlertEngine, Clock
from hub.db import Caregiver

# The largest row id SQL stores hold (signed 64 bit): a larger one is a 422, never a 500.
MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="Row id.")]
# The largest id a row has: ids are PostgreSQL `integer` (32 bit) columns, and looking up a
# larger one there is an error, so an id above it names nothing (404) without a query.
MAX_ROW_ID = 2**31 - 1


@dataclass(frozen=True)
class HubStatus:
    """What the hub's running parts report about themselves (`/healthz`, `/api/stats`)."""

    mqtt_connected: bool  # ingest is connected and subscribed
    influx_reachable: bool  # the last InfluxDB write worked
    uptime_s: float
    ingest: Mapping[str, int]  # messages received, by outcome
    rejected: Mapping[str, int]  # messages rejected, by reason
    duplicates: int  # events received again and ignored
    influx: Mapping[str, int]  # the writer's counters and its pending points
    # How late the hub's event loop woke over the last minute (hub.looplag).
    loop_lag_ms: Mapping[str, float | int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeFeed:
    """How live pages learn that alerts changed: tell every waiter, or wait for a change."""

    notify: Callable[[], None]
    wait: Callable[[float], Awaitable[None]]  # returns on a change or after the seconds


def standalone_feed() -> ChangeFeed:
    """Return a change feed of the app's own (an app without a hub's loop, as in tests)."""
    changed = [asyncio.Event()]

    def notify() -> None:
        changed[0].set()
        changed[0] = asyncio.Event()

    async def wait(within_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed[0].wait(), within_s)

    return ChangeFeed(notify, wait)


@dataclass(frozen=True)
class WebContext:
    """Everything the web app is given: built by the hub service, or by a test."""

    sessions: sessionmaker[Session]  # the SQL store
    clock: Clock
    engine: AlertEngine  # acts on alerts and silences
    secret: str  # signs the links in every page (the same one the engine signs with)
    status: Callable[[], HubStatus]
    changes: ChangeFeed = field(default_factory=standalone_feed)


async def get_context(request: Request) -> WebContext:
    """Return the context `create_app` was given."""
    context: WebContext = request.app.state.context
    return context


ContextDep = Annotated[WebContext, Depends(get_context)]


async def get_session(context: ContextDep) -> AsyncIterator[Session]:
    """Yield one SQL session for the request (async: it stays on the event loop's thread)."""
    with context.sessions() as session:
        yield session


async def get_clock(context: ContextDep) -> Clock:
    return context.clock


async def get_engine(context: ContextDep) -> AlertEngine:
    return context.engine


async def get_changes(context: ContextDep) -> ChangeFeed:
    return context.changes


async def get_status(context: ContextDep) -> HubStatus:
    return context.status()


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
EngineDep = Annotated[AlertEngine, Depends(get_engine)]
ChangesDep = Annotated[ChangeFeed, Depends(get_changes)]
StatusDep = Annotated[HubStatus, Depends(get_status)]


class LinkProblem(Exception):
    """A link or a phone's login that cannot be served: shown as a page, never as JSON."""

    def __init__(self, reason: str, status_code: int = 403, *, token: str | None = None,
                 alert_id: int = 0, person_id: str | None = None,
                 renew: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason  # a key of hub.web.texts
        self.status_code = status_code
        self.token = token  # the link, for the fresh-link button
        self.alert_id = alert_id  # the alert a genuine (expired) link names; 0: none
        self.person_id = person_id  # whose that link was: they may still see its state
        self.renew = renew


def link_grant(secret: str, token: str, now: float) -> tokens.AckGrant:
    """Return the grant of a live link; raise LinkProblem saying what is wrong with it."""
    try:
        return tokens.verify(secret, token, now)
    except tokens.LinkExpired as exc:
        raise LinkProblem("expired", 410, token=token, alert_id=exc.grant.alert_id,
                          person_id=exc.grant.caregiver_id) from exc
    except tokens.TokenError as exc:
        raise LinkProblem("invalid", 403, token=token) from exc


def active_person(session: Session, person_id: str, token: str | None) -> Caregiver:
    """Return an active registry person, detached from the session; else LinkProblem."""
    person = session.get(Caregiver, person_id)
    if person is None or not person.active:
        raise LinkProblem("person_gone", 403, token=token, renew=False)
    # The person as the link found them, whatever the request's session does later.
    session.expunge(person)
    return person


async def get_caregiver(token: str, context: ContextDep, clock: ClockDep,
                        session: SessionDep) -> Caregiver:
    """Return the active person whose page link `token` is (from the path)."""
    grant = link_grant(context.secret, token, clock.now())
    if grant.alert_id != 0:
        raise LinkProblem("not_page_link", 403, token=token)
    return active_person(session, grant.caregiver_id, token)


CurrentCaregiver = Annotated[Caregiver, Depends(get_caregiver)]

# The cookie of a caregiver's phone: a device login (hub.accounts), HttpOnly.
DEVICE_COOKIE = "bw_device"


async def get_device_caregiver(request: Request, clock: ClockDep,
                               session: SessionDep) -> Caregiver:
    """Return the active person of this phone's device login (its cookie)."""
    text = request.cookies.get(DEVICE_COOKIE)
    if not text:
        raise LinkProblem("no_login", 401, renew=False)
    person = accounts.device_person(session, accounts.find_token(session, text), clock.now())
    if person is None:
        raise LinkProblem("device_ended", 401)
    session.commit()  # its last use
    return active_person(session, person.id, None)


DeviceCaregiver = Annotated[Caregiver, Depends(get_device_caregiver)]
