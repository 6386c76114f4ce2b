"""A resident's data rights against a real InfluxDB: the export holds everything kept about
them and their home, readings included; erasure removes it from SQL and InfluxDB, leaves
other homes alone, and leaves one audit entry without personal data."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bedwatch import wire
from hub import accounts
from hub.config import InfluxSection
from hub.db import (
    AgentState,
    Alert,
    AuditEntry,
    Caregiver,
    DeadLetter,
    Delivery,
    EventRecord,
    Home,
    Page,
    Resident,
    Silence,
)
from hub.influx import InfluxWriter, reading_point
from hub.web import WebContext, create_app
from hub.web.auth import Principal, get_principal
from rig.stack import InfluxDB
from tests.hub.conftest import site_config
from tests.hub.logins import login, make_user
from tests.hub.webapp import hubless_context

ADMIN = Principal(id="u-admin", role="admin")
T = 1_764_000_000.0


async def _world(tmp_path: Path, influx_url: str,
                 db_url: str | None = None) -> tuple[WebContext, str]:
    database = f"rights_{uuid.uuid4().hex[:8]}"
    extra: dict[str, Any] = {} if db_url is None else {"database": {"url": db_url}}
    config = site_config(
        tmp_path, influx={"url": influx_url, "database": database}, **extra,
        homes=[{"id": "home-1", "site": "town", "address": "Qingshan Road 12",
                "resident": {"name": "Wang Guirong", "doctor_notify": ["json://doc/"],
                             "family": [{"name": "Son", "notify": ["json://son/"]}]}},
               {"id": "home-2", "site": "town", "address": "Hill Lane 3",
                "resident": {"name": "Li Xiu"}}])
    context = hubless_context(config)
    for home in ("home-1", "home-2"):
        with context.sessions() as session:
            alert = context.engine.on_event(session, home, "call", "btn", T, {})
            assert alert is not None
            session.add(EventRecord(home=home, id=f"{home}-e1", device="btn", kind="call",
                                    severity="critical", seq=1, t=T, data={}, received_at=T,
                                    received_order=1, alert_id=alert.id))
            session.add(AgentState(home=home, state="online", updated_at=T))
            session.add(DeadLetter(at=T, topic=f"bw/v1/{home}/events", payload=b"\xff",
                                   error="bad", attempts=3, home=home))
            session.commit()
        context.engine.silence(home, "cg-a", 600, "on site")
    await context.engine.process_due_pages()
    influx = InfluxWriter(config.influx)
    await influx.ensure_database()
    for home in ("home-1", "home-2"):
        influx.add([reading_point(home, wire.Reading(device="bed", kind="vitals", t=T + i,
                                                     fields={"hr": 60.0 + i}))
                    for i in range(3)])
    await influx.flush()
    await influx.close()
    with context.sessions() as session:
        resident = session.scalars(select(Resident).where(Resident.home_id == "home-1")).one()
    return context, resident.id


def _client(context: WebContext) -> TestClient:
    app = create_app(context)
    app.dependency_overrides[get_principal] = lambda: ADMIN
    return TestClient(app)


async def _series(url: str, database: str, home: str) -> int:
    influx = InfluxWriter(InfluxSection(url=url, database=database))
    try:
        found = await influx.query(f"SHOW SERIES WHERE \"home\" = '{home}'")
    finally:
        await influx.close()
    return sum(len(s.get("values", [])) for s in found)


async def test_the_export_holds_everything_about_the_resident_and_nothing_else(
        tmp_path: Path, influxdb: InfluxDB) -> None:
    context, resident_id = await _world(tmp_path, influxdb.url)
    answer = _client(context).get(f"/api/residents/{resident_id}/export")
    assert answer.status_code == 200, answer.text
    export: dict[str, Any] = answer.json()
    assert export["resident"]["name"] == "Wang Guirong"
    assert export["home"]["address"] == "Qingshan Road 12"
    assert {c["id"] for c in export["contacts"]} == {"fam-home-1-1", "doc-home-1"}
    assert [e["id"] for e in export["events"]] == ["home-1-e1"]
    assert [a["home"] for a in export["alerts"]] == ["home-1"]
    assert export["pages"] and export["deliveries"] and export["audit"]
    assert all(p["alert_id"] == export["alerts"][0]["id"] for p in export["pages"])
    assert [s["reason"] for s in export["silences"]] == ["on site"]
    assert export["agent_status"][0]["state"] == "online"
    assert export["dead_letters"][0]["payload"] == "/w=="  # bytes as base64
    assert [p["hr"] for p in export["readings"]["vitals"]] == [60.0, 61.0, 62.0]
    assert {p["home"] for p in export["readings"]["vitals"]} == {"home-1"}
    assert "Li Xiu" not in answer.text and "home-2" not in answer.text


async def test_erasure_removes_sql_rows_and_series_and_leaves_one_audit_entry(
        tmp_path: Path, influxdb: InfluxDB, db_url: str) -> None:
    context, resident_id = await _world(tmp_path, influxdb.url, db_url)
    database = context.engine.config.influx.database  # type: ignore[attr-defined]
    assert await _series(influxdb.url, database, "home-1") == 1
    # The son's login on his phone, and the other home's family login that must stay.
    son = login(context, "family", person="fam-home-1-1", home="home-1")
    other = make_user(context, "family", username="li-family", home="home-2")
    answer = _client(context).delete(f"/api/residents/{resident_id}")
    assert answer.status_code == 200, answer.text
    erased = answer.json()["erased"]
    assert (erased["logins"], erased["tokens"]) == (1, 1)
    with context.sessions() as session:
        assert [u.id for u in session.scalars(select(accounts.User))] == [other.id]
    assert TestClient(create_app(context)).get("/api/auth/me", headers=son).status_code == 401
    assert erased["influx_series"] == 1 and erased["alerts"] == 1 and erased["events"] == 1
    assert erased["contacts"] == 2 and erased["residents"] == 1 and erased["pages"] >= 1
    assert await _series(influxdb.url, database, "home-1") == 0
    assert await _series(influxdb.url, database, "home-2") == 1  # another home untouched
    with context.sessions() as session:
        def count(model: Any, column: Any, home: str) -> int:
            return session.scalar(select(func.count()).select_from(model)
                                  .where(column == home)) or 0

        kept = ((Alert, Alert.home), (EventRecord, EventRecord.home), (Silence, Silence.home),
                (AgentState, AgentState.home), (DeadLetter, DeadLetter.home),
                (Resident, Resident.home_id))
        assert [count(m, c, "home-1") for m, c in kept] == [0] * len(kept)
        assert [count(m, c, "home-2") for m, c in kept] == [1] * len(kept)
        assert count(Caregiver, Caregiver.home_id, "home-1") == 0
        assert session.scalar(select(func.count()).select_from(Page)) == \
            session.scalar(select(func.count()).select_from(Page).join(
                Alert, Alert.id == Page.alert_id).where(Alert.home == "home-2"))
        assert session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.alert_id.not_in(select(Alert.id)))) == 0
        home = session.get(Home, "home-1")
        assert home is not None and not home.active
        assert (home.address, home.resident_name, home.doctor_notify) == ("", "", [])
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.home == "home-1"))
        assert (entry.actor, entry.action) == ("u-admin", "resident_erased")
        assert entry.detail["resident"] == resident_id
        text = json.dumps(entry.detail)
        assert "Wang" not in text and "Qingshan" not in text
    client = _client(context)
    assert client.get(f"/api/residents/{resident_id}/export").status_code == 404
    assert client.delete(f"/api/residents/{resident_id}").status_code == 404


async def test_without_influxdb_nothing_is_erased(tmp_path: Path,
                                                  influxdb: InfluxDB) -> None:
    context, resident_id = await _world(tmp_path, influxdb.url)
    context.engine.config.influx.url = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    answer = _client(context).delete(f"/api/residents/{resident_id}")
    assert answer.status_code == 502 and "nothing was changed" in answer.text
    with context.sessions() as session:
        assert session.get(Resident, resident_id) is not None
        assert session.scalars(select(Alert).where(Alert.home == "home-1")).first() is not None


@pytest.mark.parametrize("path", ["/api/residents/r-missing/export"])
def test_an_unknown_resident_is_404(tmp_path: Path, influxdb: InfluxDB, path: str) -> None:
    context = hubless_context(site_config(tmp_path, influx={"url": influxdb.url}))
    assert _client(context).get(path).status_code == 404
