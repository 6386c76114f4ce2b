"""The API's documentation, Swagger UI at /docs and ReDoc at /redoc, renders in a real
headless Chromium with every request off this machine refused: nothing comes from a CDN."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

from hub.web import create_app
from tests.hub.conftest import site_config
from tests.hub.webapp import hubless_context

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Chromium is not installed (Debian package 'chromium'; `make test` installs it)")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    """Serve the hub's web app (no ingest behind it) on a free loopback port."""
    app = create_app(hubless_context(site_config(tmp_path)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "the API did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_docs_and_redoc_render_without_outside_network(api: str) -> None:
    from playwright.sync_api import Route, expect, sync_playwright

    refused: list[str] = []
    served: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            served.append(url)
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_context().new_page()
        page.route("**/*", only_local)

        page.goto(f"{api}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("bedwatch hub",
                                                                       timeout=20_000)
        # The operations list: the fleet's routes among the others, each with its method.
        fleet = page.locator(".opblock-summary-path[data-path='/api/fleet/health']")
        expect(fleet).to_be_visible()
        assert page.locator(".opblock").count() > 30
        page.screenshot(path=str(ARTIFACTS / "docs-swagger.png"))

        page.goto(f"{api}/redoc")
        expect(page.get_by_text("/api/fleet/visits").first).to_be_attached(timeout=20_000)
        expect(page.locator("h1").first).to_contain_text("bedwatch hub")
        page.screenshot(path=str(ARTIFACTS / "docs-redoc.png"))
        browser.close()

    assert not refused, f"the documentation pages reached outside: {refused}"
    assert any(url.endswith("/docs-static/swagger-ui-bundle.js") for url in served)
    assert any(url.endswith("/docs-static/redoc.standalone.js") for url in served)
