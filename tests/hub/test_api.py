"""The REST API: alerts and their lifecycle, silences, statistics, and its bearer token."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from bedwatch import wire
from hub.api import create_app
from hub.service import Hub, bp_crisis_event
from tests.hub.conftest import RecordingNotifier, site_config


def _hub(tmp_path: Path, **sections: object) -> Hub:
    return Hub(site_config(tmp_path, **sections), notifier=RecordingNotifier())


def _event(hub: Hub, kind: str) -> None:
    hub._on_event("home-1", wire.Event(id=uuid.uuid4().hex, seq=1, t=time.time(),
                                       device="mat", kind=kind,
                                       severity=wire.DEFAULT_SEVERITY[kind]))


def test_lifecycle_and_false_alarm_statistics(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    client = TestClient(create_app(hub))
    _event(hub, "fall")
    [alert] = client.get("/api/alerts?state=open").json()
    assert client.post(f"/api/alerts/{alert['id']}/resolve",
                       json={"caregiver": "cg-a"}).status_code == 422  # what was found?
    done = client.post(f"/api/alerts/{alert['id']}/resolve",
                       json={"caregiver": "cg-a", "resolution": "false_alarm", "note": "cat"})
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    again = client.post(f"/api/alerts/{alert['id']}/ack", json={"caregiver": "cg-b"})
    assert again.status_code == 409
    _event(hub, "fall")
    [second] = client.get("/api/alerts?state=open").json()
    client.post(f"/api/alerts/{second['id']}/resolve",
                json={"caregiver": "cg-a", "resolution": "real"})
    stats = client.get("/api/stats/alerts").json()["kinds"]["fall"]
    assert stats == {"alerts": 2, "resolutions": {"false_alarm": 1, "real": 1},
                     "false_alarm_share": 0.5}


def test_silence_is_recorded_in_the_audit(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    client = TestClient(create_app(hub))
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
    hub = _hub(tmp_path, api={"secret": "x" * 32, "token": "t" * 32})
    client = TestClient(create_app(hub))
    assert client.get("/api/alerts").status_code == 401
    assert client.get("/api/alerts", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/api/alerts", headers={"Authorization": f"Bearer {'t' * 32}"})
    assert ok.status_code == 200
    assert client.get("/healthz").status_code in (200, 503)  # health stays open


def test_blood_pressure_crisis_reading_becomes_an_event() -> None:
    def reading(systolic: float, diastolic: float) -> wire.Reading:
        return wire.Reading(device="cuff", kind="bp", t=1_764_000_000.0,
                            fields={"systolic_mmhg": systolic, "diastolic_mmhg": diastolic})

    assert bp_crisis_event(reading(180, 120)) is None  # crisis is above 180/120
    high = bp_crisis_event(reading(181, 90))
    assert high is not None and high.kind == "bp_crisis" and high.data["systolic_mmhg"] == 181
    assert bp_crisis_event(reading(150, 121)) is not None
    same = bp_crisis_event(reading(181, 90))
    assert same is not None and same.id == high.id  # a redelivered batch: one event
