"""The REST API: alerts and their lifecycle, silences, statistics, and its logins."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bedwatch import wire
from hub.service import Hub, web_context
from hub.web import WebContext, create_app
from tests.hub.conftest import RecordingNotifier, site_config
from tests.hub.logins import login
from tests.hub.webapp import hubless_context, raise_event


def _context(tmp_path: Path, **sections: object) -> WebContext:
    return hubless_context(site_config(tmp_path, **sections))


def _event(context: WebContext, kind: str) -> None:
    raise_event(context, "home-1", kind, time.time())


def test_lifecycle_and_false_alarm_statistics(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = TestClient(create_app(context))
    a, b = login(context, "caregiver", person="cg-a"), login(context, "caregiver", person="cg-b")
    desk = login(context, "desk")
    _event(context, "fall")
    [alert] = client.get("/api/alerts?state=open", headers=a).json()
    assert client.post(f"/api/alerts/{alert['id']}/resolve", json={},
                       headers=a).status_code == 422  # what was found?
    done = client.post(f"/api/alerts/{alert['id']}/resolve",
                       json={"resolution": "false_alarm", "note": "cat"}, headers=a)
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    assert done.json()["resolved_by"] == "cg-a"  # the login's person acts
    again = client.post(f"/api/alerts/{alert['id']}/ack", json={}, headers=b)
    assert again.status_code == 409
    _event(context, "fall")
    [second] = client.get("/api/alerts?state=open", headers=a).json()
    client.post(f"/api/alerts/{second['id']}/resolve", json={"resolution": "real"}, headers=b)
    stats = client.get("/api/stats/alerts", headers=desk).json()["kinds"]["fall"]
    assert stats == {"alerts": 2, "resolutions": {"false_alarm": 1, "real": 1},
                     "false_alarm_share": 0.5}


def test_nobody_acts_as_someone_else(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = TestClient(create_app(context))
    a = login(context, "caregiver", person="cg-a")
    admin = login(context, "admin")  # not linked to a registry person
    _event(context, "fall")
    [alert] = client.get("/api/alerts?state=open", headers=a).json()
    as_b = client.post(f"/api/alerts/{alert['id']}/ack", json={"caregiver": "cg-b"}, headers=a)
    assert as_b.status_code == 403 and "not as cg-b" in as_b.json()["detail"]
    assert client.post(f"/api/alerts/{alert['id']}/ack", json={"caregiver": "cg-a"},
                       headers=admin).status_code == 403
    mine = client.post(f"/api/alerts/{alert['id']}/ack", json={"caregiver": "cg-a"}, headers=a)
    assert mine.status_code == 200 and mine.json()["acknowledged_by"] == "cg-a"


def test_silence_is_recorded_in_the_audit(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = TestClient(create_app(context))
    a, desk = login(context, "caregiver", person="cg-a"), login(context, "desk")
    response = client.post("/api/homes/home-1/silence",
                           json={"minutes": 30, "reason": "bathing"}, headers=a)
    assert response.status_code == 200
    assert client.post("/api/homes/nowhere/silence", json={
        "minutes": 30, "reason": "x"}, headers=a).status_code == 404
    assert client.post("/api/homes/home-1/silence", json={
        "minutes": 24 * 60, "reason": "x"}, headers=a).status_code == 422
    [entry] = client.get("/api/audit", headers=desk).json()
    assert (entry["action"], entry["actor"], entry["detail"]["reason"]) == (
        "silenced", "cg-a", "bathing")


def test_the_api_needs_a_login_and_the_shared_token_is_gone(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = TestClient(create_app(context))
    assert client.get("/api/alerts").status_code == 401
    assert client.get("/api/alerts", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/alerts", headers=login(context, "desk")).status_code == 200
    # Health stays open without a login; this hub never connected, so it is unhealthy.
    health = client.get("/healthz")
    assert health.status_code == 503 and set(health.json()) <= {
        "ok", "mqtt", "influxdb", "database"}  # nothing personal
    with pytest.raises(ValidationError, match="issue-token"):
        site_config(tmp_path, api={"secret": "x" * 32, "token": "t" * 32})


async def test_the_hub_does_not_judge_blood_pressure_again(tmp_path: Path) -> None:
    # The edge's BP detector raises bp_crisis with its evidence; a second judge made two events.
    hub = Hub(site_config(tmp_path, api={"secret": "x" * 32}), notifier=RecordingNotifier())
    batch = wire.ReadingBatch(agent="home-1", seq=1, readings=[wire.Reading(
        device="cuff", kind="bp", t=1_764_000_000.0,
        fields={"systolic_mmhg": 230.0, "diastolic_mmhg": 130.0})])
    await hub.handle("home-1", wire.Channel.READINGS, None, batch)
    assert hub.writer.pending == 1
    context = web_context(hub)
    client = TestClient(create_app(context))
    desk = login(context, "desk")
    assert client.get("/api/events", headers=desk).json() == []
    assert client.get("/api/alerts", headers=desk).json() == []
