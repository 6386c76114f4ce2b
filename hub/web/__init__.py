"""The hub's web side: the REST API, the one-tap acknowledge page and the caregiver's page.

`create_app` builds the FastAPI app from routers (`routes/<resource>.py`) and a
`WebContext` (`deps.py`); routes get the hub's parts only through dependencies.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError

from hub.accounts import Throttle
from hub.web.auth import make_resolver
from hub.web.deps import LinkProblem, WebContext
from hub.web.docs import install_docs
from hub.web.limits import install_limits
from hub.web.responses import CleanJSONResponse, validation_problem
from hub.web.routes import (
    ack,
    alerts,
    audit,
    auth,
    caregiver,
    dead_letters,
    events,
    fleet,
    health,
    homes,
    links,
    registry,
    registry_homes,
    registry_rights,
    silences,
    stats,
    users,
)

__all__ = ["WebContext", "create_app"]


def create_app(context: WebContext) -> FastAPI:
    """Return the hub's web app, serving what `context` gives it."""
    app = FastAPI(title="bedwatch hub", version="0.1.0", default_response_class=CleanJSONResponse,
                  docs_url=None, redoc_url=None)
    install_docs(app)  # Swagger UI and ReDoc from local files, public like /openapi.json
    app.state.context = context
    install_limits(app)  # bounded requests; an internal failure is a bare, counted 500
    # Logins: every /api route declares its roles (hub.web.auth.require); pages use links.
    app.state.resolve_principal = make_resolver(context.sessions, context.clock)
    app.state.login_throttle = Throttle(auth.LOGIN_FAILURES, auth.LOGIN_WINDOW_S)
    app.state.login_counters = {"ok": 0, "failed": 0, "limited": 0}
    for name, throttle in links.throttles().items():
        setattr(app.state, name, throttle)
    app.add_exception_handler(LinkProblem, links.show_problem)
    app.add_exception_handler(RequestValidationError, validation_problem)
    api = APIRouter(prefix="/api")
    for module in (auth, users, alerts, events, homes, silences, audit, stats, dead_letters,
                   registry, registry_homes, registry_rights, fleet):
        api.include_router(module.router)
    app.include_router(api)
    for module in (health, ack, links):
        app.include_router(module.router)
    app.include_router(caregiver.phone)  # before the links: /c/login is not a link
    app.include_router(caregiver.link)
    return app
