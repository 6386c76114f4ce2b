"""Build the hub's web app without a hub: the registry in SQL, an alert engine, no ingest."""

from __future__ import annotations

from fastapi import FastAPI, Request

from hub.alerts import AlertEngine, Clock, SystemClock
from hub.config import HubConfig
from hub.db import make_engine, make_sessionmaker
from hub.web import WebContext, create_app
from hub.web.auth import Principal, get_principal
from hub.web.deps import HubStatus
from tests.hub.conftest import RecordingNotifier

# A hub that has not connected to anything yet: what an app without ingest reports.
NEVER_CONNECTED = HubStatus(mqtt_connected=False, influx_reachable=False, uptime_s=0.0,
                            ingest={}, rejected={}, duplicates=0, influx={"pending": 0})


def hubless_context(config: HubConfig, clock: Clock | None = None) -> WebContext:
    """Return what the web app needs without a hub: the registry in SQL (`site_config` put it
    there) and an alert engine."""
    sessions = make_sessionmaker(make_engine(config.database.url))
    assert config.api.secret is not None
    clock = clock or SystemClock()
    engine = AlertEngine(sessions, RecordingNotifier(), secret=config.api.secret,
                         public_url=config.api.public_url, clock=clock,
                         ack_link_ttl_s=config.api.ack_link_ttl_s, config=config)
    return WebContext(sessions=sessions, clock=clock, engine=engine, secret=config.api.secret,
                      status=lambda: NEVER_CONNECTED)


def raise_event(context: WebContext, home: str, kind: str, t: float,
                device: str = "mat") -> None:
    """Hand the alert engine one stored event, as ingest does."""
    with context.sessions() as session:
        context.engine.on_event(session, home, kind, device, t, {})
        session.commit()


ADMIN = Principal(id="admin-test", role="admin", all_homes=True)


def admin_app(context: WebContext) -> FastAPI:
    """Return the hub's app with every request made as an administrator."""
    app = create_app(context)

    async def admin_login(request: Request) -> Principal:
        return ADMIN

    async def as_admin() -> Principal:
        return ADMIN

    app.state.resolve_principal = admin_login
    app.dependency_overrides[get_principal] = as_admin
    return app
