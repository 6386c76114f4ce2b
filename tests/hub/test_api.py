"""The REST API: alerts and their lifecycle, silences, statistics, and its bearer token."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from bedwatch import wire
from hub.service import Hub, web_context
from hub.web import WebContext, create_app
from tests.hub.conftest import RecordingNotifier, site_config
from tests.hub.webapp import hubless_context, raise_event


def _context(tmp_path: Path, **sections: object) -> WebContext:
    return hubless_context(site_config(tmp_path, **sections))


def _event(context: WebContext, kind: str) -> None:
    raise_event(context, "home-1", kind, time.time())


def test_lifecycle_and_false_alarm_statistics(tmp_path: Path) -> None:
    context = _context(tmp_path)
    client = TestClient(create_app(context))
    _event(context, "fall")
    [alert] = client.get("/api/alerts?state=open").json()
    assert client.post(f"/api/alerts/{alert['id']}/resolve",
                       json={"caregiver": "cg-a"}).status_code == 422  # what was found?
    done = client.post(f"/api/alerts/{alert['id']}/resolve",
                       json={"caregiver": "cg-a", "resolution": "false_alarm", "note": "cat"})
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    again = client.post(f"/api/alerts/{alert['id']}/ack", json={"caregiver": "cg-b"})
    assert again.status_code == 409
    _event(context, "fall")
    [second] = client.get("/api/alerts?state=open").json()
    client.post(f"/api/alerts/{second['id']}/resolve",
                json={"caregiver": "cg-a", "resolution": "real"})
    stats = client.get("/api/stats/alerts").json()["kinds"]["fall"]
    assert stats == {"alerts": 2, "resolutions": {"false_alarm": 1, "real": 1},
                     "false_alarm_share": 0.5}


def test_silence_is_recorded_in_the_audit(tmp_path: Path) -> None:
    client = TestClient(create_app(_context(tmp_path)))
    response = client.post("/api/homes/home-1/silence",
                           json={"caregiver": "cg-a", "minutes": 30, "reason": "bathing"})
    assert response.status_code == 200
    assert client.post("/api/homes/nowhere/silence", json={
        "caregiver": "cg-a", "minutes": 30, "reason": "x"}).status_code == 404
    assert client.post("/api/homes/home-1/silence", json={
        "caregiver": "cg-a", "minutes": 24 * 60, "reason": "x"}).status_code == 422
    [entry] = client.get("/api/audit").json()
    assert (entry["action"], entry["actor"], entry["detail"]["reason"]) == (
        "silenced", "cg-a", "bathing")


def test_api_token_is_required_when_configured(tmp_path: Path) -> None:
    client = TestClient(create_app(_context(tmp_path, api={"secret": "x" * 32,
                                                           "token": "t" * 32})))
    assert client.get("/api/alerts").status_code == 401
    assert client.get("/api/alerts", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/api/alerts", headers={"Authorization": f"Bearer {'t' * 32}"})
    assert ok.status_code == 200
    # Health stays open without the token; this hub never connected, so it is unhealthy.
    assert client.get("/healthz").status_code == 503


async def test_the_hub_does_not_judge_blood_pressure_again(tmp_path: Path) -> None:
    # The edge's BP detector raises bp_crisis with its evidence; a second judge made two events.
    hub = Hub(site_config(tmp_path, api={"secret": "x" * 32}), notifier=RecordingNotifier())
    batch = wire.ReadingBatch(agent="home-1", seq=1, readings=[wire.Reading(
        device="cuff", kind="bp", t=1_764_000_000.0,
        fields={"systolic_mmhg": 230.0, "diastolic_mmhg": 130.0})])
    await hub.handle("home-1", wire.Channel.READINGS, None, batch)
    assert hub.writer.pending == 1
    client = TestClient(create_app(web_context(hub)))
    assert client.get("/api/events").json() == []
    assert client.get("/api/alerts").json() == []
