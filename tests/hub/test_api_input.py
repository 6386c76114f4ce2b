"""The API never answers 500 to bad input: huge ids, text that is not valid Unicode in old
rows, and the dead letters listed with their bytes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.db import Alert, DeadLetter, EventRecord
from hub.web import WebContext, create_app
from tests.hub.conftest import site_config
from tests.hub.logins import login
from tests.hub.webapp import hubless_context

HUGE = "99999999999999999999999"


@pytest.fixture
def context(tmp_path: Path) -> WebContext:
    return hubless_context(site_config(tmp_path))


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"/api/alerts/{HUGE}"),
    ("GET", "/api/alerts/0"),
    ("GET", f"/api/audit?alert_id={HUGE}"),
    ("POST", f"/api/alerts/{HUGE}/ack"),
    ("GET", f"/api/dead-letters?offset={HUGE}"),
    ("GET", "/api/dead-letters?limit=0"),
])
def test_integers_out_of_range_are_422(context: WebContext, method: str, path: str) -> None:
    client = TestClient(create_app(context), raise_server_exceptions=False)
    response = client.request(method, path, json={}, headers=login(context, "desk"))
    assert response.status_code == 422


def test_a_huge_id_on_the_caregivers_page_is_422_and_the_largest_id_just_not_found(
        context: WebContext) -> None:
    client = TestClient(create_app(context), raise_server_exceptions=False)
    page = context.engine.desk_link("cg-a").rsplit("/", 1)[1]
    assert client.post(f"/c/{page}/alerts/{HUGE}/ack", json={}).status_code == 422
    assert client.post(f"/c/{page}/alerts/{2**63 - 1}/ack", json={}).status_code == 404
    assert client.get(f"/api/alerts/{2**63 - 1}",
                      headers=login(context, "desk")).status_code == 404


def test_rows_with_a_lone_surrogate_are_served_with_it_escaped(context: WebContext) -> None:
    with context.sessions() as session:
        session.add(EventRecord(home="home-1", id="old-1", device="mat", kind="fall",
                                severity="critical", seq=1, t=1.0, received_at=2.0,
                                received_order=1, data={"note": "bad \udcff text"}))
        session.add(Alert(home="home-1", kind="fall", severity="critical", opened_at=2.0,
                          first_event_t=1.0, last_event_at=2.0, data={"note": "\ud800"}))
        session.commit()
    client = TestClient(create_app(context), raise_server_exceptions=False,
                        headers=login(context, "desk"))
    events = client.get("/api/events")
    assert events.status_code == 200
    assert events.json()[0]["data"]["note"] == "bad \\udcff text"
    alerts = client.get("/api/alerts")
    assert alerts.status_code == 200 and alerts.json()[0]["data"]["note"] == "\\ud800"


def test_dead_letters_newest_first_paginated_with_bytes_and_counted(context: WebContext) -> None:
    payloads = [b'{"v":1}', b"\xff\xfe not utf-8", "温度".encode()]
    with context.sessions() as session:
        for i, payload in enumerate(payloads):
            session.add(DeadLetter(at=100.0 + i, topic="bw/v1/home-1/events", payload=payload,
                                   error="database locked", attempts=3, home="home-1"))
        session.commit()
    client = TestClient(create_app(context), raise_server_exceptions=False,
                        headers=login(context, "desk"))
    first = client.get("/api/dead-letters?limit=2").json()
    assert first["total"] == 3 and [d["at"] for d in first["items"]] == [102.0, 101.0]
    assert first["items"][0]["payload_text"] == "温度"
    assert first["items"][1]["payload_text"] == "\\xff\\xfe not utf-8"
    assert base64.b64decode(first["items"][1]["payload_base64"]) == payloads[1]
    rest = client.get("/api/dead-letters?limit=2&offset=2").json()
    assert [d["payload_text"] for d in rest["items"]] == ['{"v":1}']
    assert client.get("/api/dead-letters?home=home-2").json()["total"] == 0
    assert client.get("/api/stats").json()["dead_letters"] == 3
