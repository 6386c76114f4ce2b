"""Bad input gets a clear 4xx, never a 500: request sizes, URL and header limits, pagination
caps, strict request models, and an internal failure answered without internals and counted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message

from hub.web import WebContext
from hub.web.deps import MAX_ID
from hub.web.limits import MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_HEADERS, MAX_URL_BYTES
from tests.hub.conftest import site_config
from tests.hub.webapp import admin_app, hubless_context


@pytest.fixture
def context(tmp_path: Path) -> WebContext:
    return hubless_context(site_config(tmp_path))


@pytest.fixture
def app(context: WebContext) -> FastAPI:
    return admin_app(context)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def _padded_ack(size: int) -> bytes:
    """Return a JSON ack body of `size` bytes (valid but for its note's length)."""
    head, tail = b'{"caregiver": "cg-a", "note": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_body_over_the_limit_is_413_and_one_at_the_limit_reaches_the_route(
        client: TestClient) -> None:
    response = client.post("/api/alerts/1/ack", content=_padded_ack(MAX_BODY_BYTES + 1),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert f"{MAX_BODY_BYTES} bytes" in response.json()["detail"]
    # Just under the limit the same body reaches the route, which judges its content.
    response = client.post("/api/alerts/1/ack", content=_padded_ack(MAX_BODY_BYTES),
                           headers={"content-type": "application/json"})
    assert response.status_code == 422  # the note is longer than a note may be


async def _call(app: FastAPI, path: str, chunks: list[bytes],
                headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, int]:
    """Send a request straight to the ASGI app; return status, body and chunks it read."""
    pending = list(chunks)
    sent: list[Message] = []

    async def receive() -> Message:
        if not pending:
            await asyncio.sleep(3600)  # a client that sends nothing more
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("hub.test", 80)}
    await asyncio.wait_for(app(scope, receive, send), 10)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, len(chunks) - len(pending)


async def test_a_streamed_body_without_length_is_cut_at_the_limit(app: FastAPI) -> None:
    chunk = b" " * 8192
    chunks = [chunk] * 100  # 800 KiB of a body that never ends
    status, body, read = await _call(app, "/api/alerts/1/ack", chunks,
                                     [(b"content-type", b"application/json")])
    assert status == 413 and b"larger than" in body
    # It stopped reading at the limit: 64 KiB is 8 chunks, the 9th crossed it.
    assert read == MAX_BODY_BYTES // len(chunk) + 1


async def test_a_declared_length_over_the_limit_is_413_before_a_byte_is_read(
        app: FastAPI) -> None:
    status, body, read = await _call(app, "/api/alerts/1/ack", [b"{}"], [
        (b"content-type", b"application/json"),
        (b"content-length", str(MAX_BODY_BYTES + 1).encode())])
    assert status == 413 and b"larger than" in body and read == 0


async def test_a_content_length_that_is_not_a_number_is_400(app: FastAPI) -> None:
    status, _, read = await _call(app, "/api/alerts/1/ack", [b"{}"],
                                  [(b"content-type", b"application/json"),
                                   (b"content-length", b"lots")])
    assert status == 400 and read == 0


def test_an_overlong_url_is_414(client: TestClient) -> None:
    assert client.get("/api/alerts?home=" + "h" * MAX_URL_BYTES).status_code == 414
    assert client.get("/api/alerts/" + "9" * MAX_URL_BYTES).status_code == 414
    assert client.get("/ack/" + "t" * MAX_URL_BYTES).status_code == 414
    # A long but allowed query is judged by the route: a home id is at most 64 characters.
    assert client.get("/api/alerts?home=" + "h" * 1000).status_code == 422


def test_too_many_or_too_large_headers_are_431(client: TestClient) -> None:
    many = {f"x-extra-{i}": "1" for i in range(MAX_HEADERS + 1)}
    assert client.get("/api/alerts", headers=many).status_code == 431
    huge = {"x-extra": "v" * MAX_HEADER_BYTES}
    assert client.get("/api/alerts", headers=huge).status_code == 431
    assert client.get("/api/alerts", headers={"x-extra": "v" * 1000}).status_code == 200


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """Serve the app with uvicorn, as the hub does, on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_through_the_server_a_chunked_body_is_cut_and_a_huge_head_refused(
        served: str) -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):  # 8 MiB, if nobody stopped it
            yield b" " * 8192

    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        response = await client.post("/api/alerts/1/ack", content=endless(),
                                     headers={"content-type": "application/json"})
        assert response.status_code == 413
        # h11 lets a head that arrives in one read through, past its 16 KiB: ours answer 431.
        for size in (MAX_HEADER_BYTES + 1, 20_000):
            assert (await client.get("/api/alerts", headers={
                "x-extra": "v" * size})).status_code == 431
        # A head still incomplete past 16 KiB the server itself refuses (400, then it closes).
        with contextlib.suppress(httpx.TransportError):
            refused = await client.get("/api/alerts", headers={"x-extra": "v" * 200_000})
            assert refused.status_code == 400
        assert (await client.get("/api/alerts")).status_code == 200


def test_a_nul_character_anywhere_in_a_request_is_400(client: TestClient) -> None:
    refused = [
        client.get("/api/alerts?home=home%001"),
        client.get("/api/registry/people?site=to%00wn"),
        client.post("/api/alerts/1/ack", json={"caregiver": "cg-a", "note": "a\x00b"}),
        client.post("/api/auth/token", data={"username": "ad\x00min", "password": "x" * 12}),
        client.post("/api/alerts/1/ack", content=b'{"caregiver": "cg-a\x00"}',
                    headers={"content-type": "application/json"}),
    ]
    assert [r.status_code for r in refused] == [400] * len(refused)
    assert all("NUL" in r.json()["detail"] for r in refused)
    # The text `\u0000` (a backslash, then "u0000") is no NUL: it reaches the route.
    response = client.post("/api/alerts/1/ack", json={"caregiver": "cg-a", "note": "\\u0000"})
    assert response.status_code == 404


def test_what_postgresql_cannot_hold_is_a_4xx_not_a_500(tmp_path: Path, db_url: str) -> None:
    app = admin_app(hubless_context(site_config(tmp_path, database={"url": db_url})))
    client = TestClient(app, raise_server_exceptions=False)
    beyond_int4 = 2**31
    assert client.get(f"/api/alerts/{beyond_int4}").status_code == 404
    assert client.get(f"/api/alerts/{MAX_ID}").status_code == 404
    assert client.post(f"/api/alerts/{beyond_int4}/ack", json={}).status_code == 404
    assert client.get(f"/api/audit?alert_id={beyond_int4}").status_code == 422
    assert client.get("/api/registry/homes?site=%00").status_code == 400
    assert client.post("/api/registry/people", json={
        "id": "p-9", "name": "Nul\x00", "role": "oncall", "site": "town",
        "notify": ["json://p/"]}).status_code == 400
    # An empty person would be a reference to no registry row: refused before it is stored.
    assert client.post("/api/users", json={"username": "desk-2", "role": "desk",
                                           "person": ""}).status_code == 422
    assert app.state.internal_errors.count == 0


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in app.openapi()["paths"].items()
            for method, op in item.items()]


def test_every_list_endpoint_caps_its_page_and_the_cap_is_enforced(
        app: FastAPI, client: TestClient) -> None:
    lists = []
    for method, path, op in _operations(app):
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
        answer = op.get("responses", {}).get("200", {}).get("content", {}).get(
            "application/json", {}).get("schema", {})
        if method == "GET" and (answer.get("type") == "array" or "limit" in params):
            lists.append((path, params))
    assert lists, "no list endpoint found"
    uncapped = [path for path, params in lists
                if "limit" not in params or "maximum" not in _schema(params["limit"])]
    assert not uncapped, f"list endpoints without a capped limit: {uncapped}"
    for path, params in lists:
        if "{" in path:
            continue  # needs a real parent; its bound is checked above
        cap = _schema(params["limit"])["maximum"]
        assert client.get(path, params={"limit": cap}).status_code == 200, path
        assert client.get(path, params={"limit": cap + 1}).status_code == 422, path
        assert client.get(path, params={"limit": 0}).status_code == 422, path
        if "offset" in params:
            assert _schema(params["offset"]).get("maximum", MAX_ID + 1) <= MAX_ID, path
            assert client.get(path, params={"offset": -1}).status_code == 422, path
            assert client.get(path, params={"offset": MAX_ID + 1}).status_code == 422, path


def _schema(param: dict[str, Any]) -> dict[str, Any]:
    """Return a parameter's schema, the non-null branch of an optional one."""
    schema: dict[str, Any] = param["schema"]
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            return dict(branch)
    return schema


def _closed_pattern(pattern: str) -> bool:
    """Return True for an anchored pattern without open repetition: it bounds a length."""
    return (pattern.startswith("^") and pattern.endswith("$")
            and not re.search(r"[+*]|\{\d*,\}", pattern))


def _loose(schema: dict[str, Any], components: dict[str, Any], where: str,
           seen: set[str], *, strict: bool = True) -> list[str]:
    """Return where a request schema accepts unknown fields (`strict`) or unbounded values."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        return _loose(components[name], components, name, seen | {name}, strict=strict)
    problems = []
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        problems += _loose(branch, components, where, seen, strict=strict)
    kind = schema.get("type")
    if kind == "object":
        if (strict and schema.get("additionalProperties", True) is not False
                and "properties" in schema):
            problems.append(f"{where}: accepts unknown fields")
        for name, prop in schema.get("properties", {}).items():
            problems += _loose(prop, components, f"{where}.{name}", seen, strict=strict)
    elif kind == "string" and not ({"enum", "const", "maxLength", "format"} & schema.keys()
                                   or _closed_pattern(schema.get("pattern", ""))):
        problems.append(f"{where}: a string without maxLength")
    elif kind == "integer" and not (-MAX_ID - 1 <= schema.get("minimum", -2**64)
                                    and schema.get("maximum", 2**64) <= MAX_ID):
        problems.append(f"{where}: an integer without bounds that fit 64 bits")
    elif kind == "array":
        if "maxItems" not in schema:
            problems.append(f"{where}: a list without maxItems")
        problems += _loose(schema.get("items", {}), components, f"{where}[]", seen,
                           strict=strict)
    return problems


def test_request_bodies_and_queries_are_strict_and_bounded(app: FastAPI) -> None:
    document = app.openapi()
    components = document.get("components", {}).get("schemas", {})
    problems = []
    for method, path, op in _operations(app):
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            # A form's extra fields are never read; a JSON body's are refused.
            problems += _loose(content["schema"], components, f"{method} {path} body", set(),
                               strict=media == "application/json")
        for param in op.get("parameters", []):
            if param["in"] == "query":  # a path's parts are bounded by the URL limit
                problems += _loose(param["schema"], components,
                                   f"{method} {path} ?{param['name']}", set())
    assert not problems, "\n".join(sorted(set(problems)))


def test_registry_values_the_hub_cannot_use_or_store_are_422_not_500(
        tmp_path: Path, db_url: str) -> None:
    app = admin_app(hubless_context(site_config(tmp_path, database={"url": db_url})))
    client = TestClient(app, raise_server_exceptions=False)
    zone, name = "Asia/" + "x" * 300, "x" * 300
    for method, path, body in [
            ("POST", "/api/registry/organisations",
             {"id": "org-2", "name": "Two", "timezone": zone}),
            ("POST", "/api/registry/sites", {"id": "hills", "name": "Hills", "kind": "rural",
                                             "timezone": zone}),
            ("PATCH", "/api/registry/sites/town", {"timezone": zone}),
            ("POST", "/api/registry/sites", {"id": "hills", "name": name, "kind": "rural"}),
            ("PATCH", "/api/registry/sites/town", {"name": name})]:
        assert client.request(method, path, json=body).status_code == 422, (path, body)
    assert app.state.internal_errors.count == 0


def test_unknown_fields_in_a_body_are_422(client: TestClient, context: WebContext) -> None:
    response = client.post("/api/homes/home-1/silence", json={
        "caregiver": "cg-a", "minutes": 5, "reason": "on site", "until": "forever"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"
    page = context.engine.desk_link("cg-a").rsplit("/", 1)[1]
    response = client.post(f"/c/{page}/homes/home-1/silence", json={
        "minutes": 5, "reason": "on site", "by": "someone else"})
    assert response.status_code == 422


def test_an_exception_in_a_route_is_a_counted_500_without_internals(
        app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("password=hunter2 at /srv/hub/db.sqlite")

    app.add_api_route("/api/broken", broken)
    with caplog.at_level(logging.ERROR, logger="hub.web.limits"):
        response = client.get("/api/broken")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "ref"} and body["detail"] == "internal error"
    for secret in ("hunter2", "/srv/hub", "RuntimeError", "Traceback"):
        assert secret not in response.text
    # The log has what the answer leaves out, under the same reference.
    assert body["ref"] in caplog.text and "hunter2" in caplog.text
    assert app.state.internal_errors.count == 1
    assert client.get("/api/stats").json()["hub_internal_errors"] == 1
    client.get("/api/broken")
    assert client.get("/api/stats").json()["hub_internal_errors"] == 2
