"""What the web app's routes depend on, as `Annotated` aliases of FastAPI dependencies.

`create_app` is given a `WebContext`; routes reach the hub's parts only through the
functions here, so a test replaces one with `app.dependency_overrides[get_clock] = ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from hub import tokens
from hub.alerts import AlertEngine, Clock
from hub.db import Caregiver

# The largest row id SQL stores hold (signed 64 bit): a larger one is a 422, never a 500.
MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="Row id.")]


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
    api_token: str | None = None  # the bearer token the REST API asks for; None: open


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


async def get_caregiver(token: str, context: ContextDep, clock: ClockDep,
                        session: SessionDep) -> Caregiver:
    """Return the active person whose page link `token` is (from the path); else 403."""
    try:
        grant = tokens.verify(context.secret, token, clock.now())
    except tokens.TokenError as exc:
        raise HTTPException(403, str(exc)) from exc
    if grant.alert_id != 0:
        raise HTTPException(403, "this link acknowledges one alert; it is not a page link")
    person = session.get(Caregiver, grant.caregiver_id)
    if person is None or not person.active:
        raise HTTPException(403, "this caregiver is no longer registered")
    # The person as the link found them, whatever the request's session does later.
    session.expunge(person)
    return person


CurrentCaregiver = Annotated[Caregiver, Depends(get_caregiver)]


async def require_api_token(request: Request, context: ContextDep) -> None:
    """Refuse a REST API request without the configured bearer token (401)."""
    if context.api_token is None:
        return
    given = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {context.api_token}".encode()):
        raise HTTPException(401, "missing or wrong bearer token")

