"""The API's documentation pages, Swagger UI at `/docs` and ReDoc at `/redoc`, served whole
from the hub: the desk's network may reach no CDN, and a page that loads its script from one
is blank there.

The scripts and styles come from the `fastapi-offline` package (its copies of swagger-ui-dist
and the ReDoc standalone bundle), mounted read-only; they are as public as `/openapi.json`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/docs-static"
# The pages may load from the hub only: ReDoc's sidebar would fetch a logo from its vendor's
# CDN, and a browser that obeys this never asks. Inline scripts are the pages' own set-up.
POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
          "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
          "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'")
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def assets_dir() -> Path:
    """Return the folder of the documentation pages' scripts; fail at start-up without it."""
    folder = Path(str(files("fastapi_offline") / "static"))
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"the API documentation assets {missing} are missing from "
                           f"{folder}: reinstall the hub extra (fastapi-offline)")
    return folder


def install_docs(app: FastAPI) -> None:
    """Serve `/docs`, its OAuth2 redirect and `/redoc` with local scripts.

    The app must be made with `docs_url=None, redoc_url=None`.
    """
    app.mount(STATIC_URL, StaticFiles(directory=assets_dir()), name="docs-static")
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _local_only(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} — Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon.png",
            # Swagger UI would send the spec to validator.swagger.io for a badge: never.
            swagger_ui_parameters={"validatorUrl": None}))

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        # No web fonts: ReDoc would fetch them from Google; the desk's own fonts serve.
        return _local_only(get_redoc_html(
            openapi_url=openapi_url, title=f"{title} — ReDoc",
            redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_URL}/favicon.png", with_google_fonts=False))


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    return page
