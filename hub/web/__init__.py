"""The hub's web side: the REST API, the one-tap acknowledge page and the caregiver's page.

`create_app` builds the FastAPI app from routers (`routes/<resource>.py`) and a
`WebContext` (`deps.py`); routes get the hub's parts only through dependencies.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from hub.web.deps import WebContext, require_api_token
from hub.web.responses import CleanJSONResponse
from hub.web.routes import (
    ack,
    alerts,
    audit,
    caregiver,
    dead_letters,
    events,
    health,
    homes,
    silences,
    stats,
)

__all__ = ["WebContext", "create_app"]


def create_app(context: WebContext) -> FastAPI:
    """Return the hub's web app, serving what `context` gives it."""
    app = FastAPI(title="bedwatch hub", version="0.1.0", default_response_class=CleanJSONResponse)
    app.state.context = context
    api = APIRouter(prefix="/api", dependencies=[Depends(require_api_token)])
    for module in (alerts, events, homes, silences, audit, stats, dead_letters):
        api.include_router(module.router)
    app.include_router(api)
    for module in (health, ack, caregiver):
        app.include_router(module.router)
    return app
