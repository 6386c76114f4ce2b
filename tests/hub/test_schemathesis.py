"""Schemathesis over the hub's published OpenAPI: valid and invalid requests to every
operation, as an administrator, on a registry with homes, people and alerts, stored in
PostgreSQL as in production where a server answers (else SQLite); no answer is a 5xx and
every successful answer matches its documented schema. Pages left out of the schema
get hostile paths and queries from Hypothesis.

Bounded and deterministic: 20 generated examples per operation and mode (valid, invalid),
plus Schemathesis's boundary cases of valid values, derandomized.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import urllib.parse
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from hub.db import DeadLetter
from hub.web import WebContext
from hub.web.deps import HubStatus
from tests.hub.conftest import POSTGRES_ADMIN_URL, FakeClock, _postgres_available, site_config
from tests.hub.webapp import admin_app, hubless_context, raise_event

CONNECTED = HubStatus(mqtt_connected=True, influx_reachable=True, uptime_s=60.0, ingest={},
                      rejected={}, duplicates=0, influx={"pending": 0})
BOUNDED = settings(max_examples=20, derandomize=True, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))


def _database(folder: Path) -> str:
    """Return the store to test on: PostgreSQL, as in production, where a server answers."""
    if not _postgres_available():
        return f"sqlite:///{folder / 'hub.sqlite'}"
    import psycopg

    name = f"bedwatch_schemathesis_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        APP.state.context.sessions.kw["bind"].dispose()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    atexit.register(drop)
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def _registry(tmp_path: Path) -> WebContext:
    """Return a context of two stations, three homes, their people and some alerts."""
    clock = FakeClock()
    config = site_config(
        tmp_path, database={"url": _database(tmp_path)},
        sites=[{"id": "town", "name": "Town station", "kind": "urban"},
               {"id": "hills", "name": "Hill village", "kind": "rural"}],
        homes=[{"id": "home-1", "site": "town", "address": "Qingshan Road 12",
                "resident": {"name": "Wang Guirong"}},
               {"id": "home-2", "site": "town", "address": "Qingshan Road 14",
                "resident": {"name": "Li Xiuying"}},
               {"id": "home-3", "site": "hills", "address": "Upper village 3",
                "resident": {"name": "Zhang Wei"}}],
        caregivers=[
            {"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
            {"id": "cg-b", "name": "B", "site": "town", "role": "backup",
             "notify": ["json://b/"]},
            {"id": "cg-h", "name": "H", "site": "hills", "notify": ["json://h/"]}])
    # A hub whose broker and InfluxDB are up: /healthz answers 200, not its designed 503.
    context = replace(hubless_context(config, clock), status=lambda: CONNECTED)
    for i, (home, kind) in enumerate([("home-1", "fall"), ("home-2", "call"),
                                      ("home-3", "fall"), ("home-1", "device_fault")]):
        raise_event(context, home, kind, clock.now() - 60 + i)
    with context.sessions() as session:
        session.add(DeadLetter(at=clock.now(), topic="bw/v1/home-1/events",
                               payload=b"\xff not json", error="schema", attempts=1,
                               home="home-1"))
        session.commit()
    return context


# Built at import, as Schemathesis needs the schema to make the tests: one app, one registry.
_FOLDER = Path(tempfile.mkdtemp(prefix="bedwatch-schemathesis-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
APP = admin_app(_registry(_FOLDER))
# The on-call caregiver's page link: the caregiver's page reached beyond its refusal of forgeries.
PAGE_TOKEN = APP.state.context.engine.desk_link("cg-a").rsplit("/", 1)[1]
# A live page's event stream never ends by itself: its hostile-link cases are below.
# Boundary cases of valid values (invalid ones come from fuzzing's negative mode); methods a
# path does not have are the framework's 405, not the hub's, and are not sent.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {
    "unexpected-methods": [], "generation": {"mode": "positive"}}}})
schema = schemathesis.openapi.from_dict(APP.openapi(), config=CONFIG).exclude(
    path_regex=r"/stream$")


@pytest.fixture(scope="module")
def hub_app() -> FastAPI:
    return APP


@pytest.fixture(scope="module")
def client(hub_app: FastAPI) -> TestClient:
    return TestClient(hub_app, raise_server_exceptions=False)


def send(client: TestClient, case: Any) -> httpx.Response:
    """Send a generated case in-process through the app's test client (httpx).

    Schemathesis's own in-process transport is built on requests, whose urllib3 the hub's
    dependencies replace with urllib3-future; the request it describes is the same.
    """
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    if not kwargs.get("cookies"):
        kwargs.pop("cookies", None)
    body = kwargs.pop("data", None)
    if isinstance(body, (bytes, str)):
        kwargs["content"] = body
    elif body is not None:
        kwargs["data"] = body
    response: httpx.Response = client.request(**kwargs)
    return response


@schema.parametrize()
@BOUNDED
def test_no_request_gets_a_server_error(case: Any, client: TestClient) -> None:
    if case.path.startswith("/c/{token}"):
        # A genuine link, so the page's actions are reached; forged links are tested below.
        case.path_parameters["token"] = PAGE_TOKEN
    response = send(client, case)
    # Refusals are checked for their status only: the hub's own 4xx carry a plain `detail`
    # text, where the schema documents FastAPI's list of validation errors for a 422.
    checks = [not_a_server_error] + (
        [response_schema_conformance] if response.status_code < 400 else [])
    case.validate_response(response, checks=checks)


def test_the_published_schema_covers_the_api(hub_app: FastAPI) -> None:
    paths = hub_app.openapi()["paths"]
    assert {"/api/alerts", "/api/alerts/{alert_id}", "/healthz"} <= paths.keys()
    assert len([op for item in paths.values() for op in item]) >= 15


def _unpublished(app: FastAPI) -> list[tuple[list[str], str, list[str]]]:
    """Return the methods, path and path parameters of each route left out of the schema."""
    return [(sorted((c.methods or {"GET"}) - {"HEAD"}), str(c.path_format),
             list(c.original_route.param_convertors))
            for c in iter_route_contexts(app.routes)
            if isinstance(c.original_route, APIRoute) and not c.original_route.include_in_schema]


HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["..", "%00", "\x00", "\udcff", "' OR 1=1 --", "<script>", "9" * 40,
                     "-1", "a.b", "a." + "=" * 50, "ey.J9", "../../etc/passwd"]),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)


@BOUNDED
@given(data=st.data())
def test_pages_outside_the_schema_answer_hostile_paths_and_queries_without_a_5xx(
        hub_app: FastAPI, client: TestClient, data: st.DataObject) -> None:
    routes = _unpublished(hub_app)
    assert routes, "the caregiver's page is left out of the schema"
    methods, path, params = data.draw(st.sampled_from(routes))
    method = data.draw(st.sampled_from(methods))
    for name in params:
        path = path.replace("{" + name + "}", _quote(data.draw(HOSTILE, label=name)))
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in data.draw(
        st.dictionaries(st.text(max_size=20), HOSTILE, max_size=3)).items())
    response = client.request(method, f"{path}?{query}")
    assert response.status_code < 500, (method, path, query, response.text[:300])


def _quote(text: str) -> str:
    """Percent-encode any text for a URL, lone surrogates as the bytes they would be."""
    return urllib.parse.quote(text, safe="", errors="surrogatepass")


@BOUNDED
@given(token=HOSTILE, page=st.sampled_from(["", "/alerts", "/stream"]))
def test_the_caregivers_page_refuses_forged_links_without_a_5xx(
        client: TestClient, token: str, page: str) -> None:
    response = client.get(f"/c/{_quote(token)}{page}")
    assert 400 <= response.status_code < 500, (token, page, response.status_code)


def test_a_genuine_page_link_still_opens_its_page(hub_app: FastAPI,
                                                  client: TestClient) -> None:
    context: WebContext = hub_app.state.context
    link = urllib.parse.urlsplit(context.engine.desk_link("cg-a")).path
    response = client.get(link)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]


def test_no_request_above_was_an_internal_error(hub_app: FastAPI, client: TestClient) -> None:
    # Runs last in this module: every request the tests above sent, counted by the hub.
    assert hub_app.state.internal_errors.count == 0
    assert client.get("/api/stats").json()["hub_internal_errors"] == 0
