"""The fleet's health: what agents and devices say is kept in SQL across restarts, what is
derived (silence past the supervision time, low battery, clock, backlog) shows, homes sort by
urgency, the API filters and scopes, the visits list says why in Chinese and English; and on
a demo site with one device unplugged and one agent stopped, the desk sees exactly those."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy import true
from sqlalchemy.exc import OperationalError

from bedwatch import wire
from hub.db import Device, make_engine, make_sessionmaker
from hub.fleet import MAX_DEVICES_PER_HOME, MAX_WRITE_TRIES, FleetWatch
from hub.fleet_view import HomeHealth, read_health
from hub.web import WebContext, create_app
from tests.faults.test_hub_handler_property import MESSAGES
from tests.hub.conftest import FakeClock, site_config
from tests.hub.logins import headers, integration_token, login
from tests.hub.webapp import hubless_context, raise_event
from tests.sitefixture import Site, wait_for

T0 = 1_764_000_000.0


class Watch(FleetWatch):
    """Writes after every message, as `run` does soon after a change (no loop here)."""

    def observe(self, home: str, message: wire.Message) -> None:
        super().observe(home, message)
        self.flush()


def world(tmp_path: Path, db_url: str | None = None) -> WebContext:
    """Two stations: town (home-1, home-2) and village (home-3)."""
    database = {"url": db_url or f"sqlite:///{tmp_path / 'hub.sqlite'}"}
    config = site_config(
        tmp_path, database=database,
        sites=[{"id": "town", "name": "Town"}, {"id": "village", "name": "Village",
                                                 "kind": "rural"}],
        homes=[{"id": "home-1", "site": "town", "address": "East 1", "resident": {"name": "Wang"}},
               {"id": "home-2", "site": "town", "address": "East 2", "resident": {"name": "Li"}},
               {"id": "home-3", "site": "village", "address": "Hill 3",
                "resident": {"name": "Zhao"}}],
        caregivers=[{"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
                    {"id": "cg-v", "name": "V", "site": "village", "notify": ["json://v/"]}])
    return hubless_context(config, FakeClock(T0))


def agent(home: str, state: str = "online", **fields: Any) -> wire.AgentStatus:
    if state == "offline":  # the last will: nothing but the state
        return wire.AgentStatus(agent=home, state="offline")
    values: dict[str, Any] = {"t": T0, "version": "0.3.0", "uptime_s": 60.0, "outbox_depth": 0,
                              "devices": ["button"]}
    return wire.AgentStatus(agent=home, state="online", **{**values, **fields})


def event(device: str, kind: str, **data: Any) -> wire.Event:
    return wire.Event(id=wire.new_event_id(), seq=1, t=T0, device=device, kind=kind,
                      severity=wire.DEFAULT_SEVERITY[kind], data=data)


def readings(home: str, device: str, **fields: Any) -> wire.ReadingBatch:
    return wire.ReadingBatch(agent=home, seq=1, readings=[
        wire.Reading(device=device, kind="receiver", t=T0, fields=fields or {"uptime_s": 1})])


def health(context: WebContext) -> dict[str, HomeHealth]:
    with context.sessions() as session:
        return {h.id: h for h in read_health(session, true(), context.clock.now())}


def advance(context: WebContext, seconds: float) -> None:
    clock = context.clock
    assert isinstance(clock, FakeClock)
    clock.t += seconds


@pytest.fixture
def context(tmp_path: Path) -> WebContext:
    return world(tmp_path)


def test_offline_since_survives_the_retained_status_again_and_a_hub_restart(
        context: WebContext) -> None:
    watch = Watch(context.sessions, context.clock)
    watch.observe("home-2", agent("home-2"))
    advance(context, 10)
    watch.observe("home-2", agent("home-2", "offline"))
    advance(context, 3600)
    watch.observe("home-2", agent("home-2", "offline"))  # the retained will, delivered again
    restarted = Watch(context.sessions, context.clock)
    restarted.observe("home-2", agent("home-2", "offline"))
    home = health(context)["home-2"]
    assert (home.agent.state, home.agent.since, home.agent.last_seen) == ("offline", T0 + 10, T0)
    assert home.agent.version == "0.3.0"  # the will says nothing of it: the last one is kept
    assert home.states == ("offline",) and home.urgency >= 300
    assert health(context)["home-1"].agent.state == "unknown"  # never heard


def test_the_agent_calls_a_device_silent_and_it_recovers(context: WebContext) -> None:
    watch = Watch(context.sessions, context.clock)
    watch.observe("home-1", agent("home-1"))
    advance(context, 5)
    watch.observe("home-1", event("button", "device_silent", expected_within_s=30.0))
    [device] = health(context)["home-1"].devices
    assert (device.silent, device.silent_since, device.supervision_s) == (True, T0 + 5, 30.0)
    assert "device_silent" in health(context)["home-1"].states
    advance(context, 5)
    watch.observe("home-1", event("button", "device_recovered", after="silence"))
    [device] = health(context)["home-1"].devices
    assert (device.silent, device.last_report_at) == (False, T0 + 10)
    assert health(context)["home-1"].states == ("online", "healthy")


def test_a_device_not_heard_past_its_supervision_time_is_silent_unsaid(
        context: WebContext) -> None:
    with context.sessions() as session:  # a bed sensor: its agent calls it silent after 10 s
        session.add(Device(home_id="home-1", id="bed", type="bed_sensor"))
        session.commit()
    watch = Watch(context.sessions, context.clock)
    watch.observe("home-1", agent("home-1", devices=["bed", "button"]))
    watch.observe("home-1", readings("home-1", "bed"))
    watch.flush()
    advance(context, 10 + 120)  # its supervision time and the hub's grace: not yet
    assert [d.silent for d in health(context)["home-1"].devices] == [False, False]
    advance(context, 1)
    bed, button = health(context)["home-1"].devices
    assert (bed.id, bed.type, bed.silent, bed.silent_since) == ("bed", "bed_sensor", True,
                                                                 T0 + 10)
    assert not button.silent  # unknown type: heard at least every 25 h
    watch.observe("home-1", agent("home-1", "offline"))
    assert not any(d.silent for d in health(context)["home-1"].devices)  # offline says it


def test_battery_fault_clock_and_backlog(context: WebContext) -> None:
    watch = Watch(context.sessions, context.clock)
    watch.observe("home-1", agent("home-1", clock_synced=False, outbox_depth=600))
    watch.observe("home-1", readings("home-1", "button", battery_pct=15))
    watch.observe("home-1", event("button", "device_fault", reason="cannot open /dev/ttyUSB0"))
    watch.flush()
    home = health(context)["home-1"]
    [button] = home.devices
    assert (button.battery_pct, button.low_battery) == (15.0, True)
    assert (button.fault, button.fault_since) == ("cannot open /dev/ttyUSB0", T0)
    assert set(home.states) == {"online", "low_battery", "fault", "clock_unsynced",
                                "outbox_backlog"}
    watch.observe("home-1", agent("home-1", t=T0 - 1000, clock_synced=True))  # skewed clock
    watch.observe("home-1", readings("home-1", "button", battery_pct=80))
    watch.observe("home-1", event("button", "device_recovered"))
    home = health(context)["home-1"]
    assert home.states == ("online", "clock_unsynced")
    assert home.agent.clock_skew_s == -1000
    watch.observe("home-1", wire.DeviceStatus(device="button", t=T0, connected=False,
                                              errors={"disconnects": 2}))
    [button] = health(context)["home-1"].devices
    assert (button.fault, button.connected, button.errors) == ("disconnected", False,
                                                               {"disconnects": 2})


def test_homes_sort_by_urgency(context: WebContext) -> None:
    watch = Watch(context.sessions, context.clock)
    for home in ("home-1", "home-2", "home-3"):
        watch.observe(home, agent(home))
    watch.observe("home-2", agent("home-2", "offline"))
    watch.observe("home-3", event("button", "low_battery", battery_pct=10))
    assert list(health(context)) == ["home-2", "home-3", "home-1"]
    raise_event(context, "home-1", "fall", T0)  # a critical alert outranks everything
    ordered = list(health(context).values())
    assert [h.id for h in ordered] == ["home-1", "home-2", "home-3"]
    assert (ordered[0].open_alerts, ordered[0].worst_alert) == (1, "critical")


def test_a_store_fault_is_counted_never_raised_and_nothing_is_lost(
        context: WebContext, tmp_path: Path) -> None:
    broken = make_sessionmaker(make_engine(f"sqlite:///{tmp_path / 'other.sqlite'}"))
    with broken() as session:
        for table in ("fleet_devices", "fleet_agents"):
            session.connection().exec_driver_sql(f"DROP TABLE {table}")
        session.commit()
    watch = FleetWatch(broken, context.clock)
    watch.observe("home-1", agent("home-1"))  # its devices cannot be looked up: counted
    assert watch.counters["errors"] == 1
    watch.observe("home-1", agent("home-1", "offline"))
    with pytest.raises(OperationalError):
        watch.flush()
    assert watch.counters["flush_errors"] == 1
    watch.sessions = context.sessions  # the store is back: what was gathered is written
    watch.flush()
    assert health(context)["home-1"].agent.state == "offline"


def test_a_write_the_store_keeps_refusing_is_dropped_not_retried_forever(
        context: WebContext, tmp_path: Path) -> None:
    broken = make_sessionmaker(make_engine(f"sqlite:///{tmp_path / 'other.sqlite'}"))
    with broken() as session:
        session.connection().exec_driver_sql("DROP TABLE fleet_agents")
        session.commit()
    watch = FleetWatch(broken, context.clock)
    watch.observe("home-1", agent("home-1", "offline"))
    for _ in range(MAX_WRITE_TRIES):
        with pytest.raises(OperationalError):
            watch.flush()
    assert watch.counters["writes_dropped"] == 1
    watch.observe("home-2", agent("home-2", "offline"))
    watch.sessions = context.sessions
    watch.flush()  # what came since is written; the refused write is gone
    states = {h: v.agent.state for h, v in health(context).items()}
    assert states == {"home-1": "unknown", "home-2": "offline", "home-3": "unknown"}


def test_whatever_the_contract_admits_is_noted_and_stored(tmp_path: Path, db_url: str) -> None:
    context = world(tmp_path, db_url)
    watch = FleetWatch(context.sessions, context.clock)
    noted = []

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(MESSAGES)
    def check(message: tuple[str, str, dict[str, Any]]) -> None:
        home, channel, body = message
        try:
            decoded = wire.decode(f"bw/v1/{home}/{channel}", json.dumps(body).encode(
                "utf-8", "surrogatepass"))
        except wire.WireError:
            return
        watch.observe(decoded[0], decoded[3])
        watch.flush()  # raises when the store refuses a value
        noted.append(decoded[1])

    check()
    assert watch.counters["errors"] == 0 and len(noted) > 50
    assert health(context)["home-1"].agent.state in ("online", "offline", "unknown")


def test_the_writer_writes_soon_after_a_change_and_the_rest_on_the_way_out(
        context: WebContext) -> None:
    watch = FleetWatch(context.sessions, context.clock, flush_every_s=3600, settle_s=0.01)

    async def scenario() -> tuple[str, float | None, float | None]:
        stop = asyncio.Event()
        writer = asyncio.create_task(watch.run(stop))
        watch.observe("home-1", agent("home-1"))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if health(context)["home-1"].agent.state == "online":
                break
        advance(context, 5)
        watch.observe("home-1", readings("home-1", "button"))  # no change: waits
        await asyncio.sleep(0.1)
        [before] = health(context)["home-1"].devices
        stop.set()
        await writer
        [after] = health(context)["home-1"].devices
        return health(context)["home-1"].agent.state, before.last_report_at, after.last_report_at

    assert asyncio.run(scenario()) == ("online", None, T0 + 5)


def test_one_home_cannot_fill_the_store_with_device_ids(context: WebContext) -> None:
    watch = Watch(context.sessions, context.clock)
    batch = wire.ReadingBatch(agent="home-1", seq=1, readings=[
        wire.Reading(device=f"d{i:03d}", kind="x", t=T0, fields={"v": 1})
        for i in range(MAX_DEVICES_PER_HOME + 6)])
    watch.observe("home-1", batch)
    watch.flush()
    assert len(health(context)["home-1"].devices) == MAX_DEVICES_PER_HOME
    assert watch.counters["devices_over_limit"] == 6


# -- the API -----------------------------------------------------------------------------------


def _fill(context: WebContext) -> None:
    watch = Watch(context.sessions, context.clock)
    for home in ("home-1", "home-2", "home-3"):
        watch.observe(home, agent(home))
    watch.observe("home-2", agent("home-2", "offline"))
    watch.observe("home-3", event("button", "device_silent", expected_within_s=30.0))
    watch.observe("home-1", event("button", "low_battery", battery_pct=12))
    advance(context, 3600)


def test_the_fleet_is_read_once_for_the_requests_of_a_few_seconds(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Proves: requests within `FLEET_READ_S` share one read of the organisation's fleet
    (each still sees only its homes), and a request after it, or at a later hub time, reads
    again and sees what changed."""
    from hub.web.routes import fleet as route

    reads: list[float] = []

    def counted(session: Any, where: Any, now: float, **kw: Any) -> list[HomeHealth]:
        reads.append(now)
        return read_health(session, where, now, **kw)

    monkeypatch.setattr(route, "read_health", counted)
    context = world(tmp_path, db_url)
    _fill(context)
    client = TestClient(create_app(context))
    desk, village = login(context, "desk"), login(context, "caregiver", person="cg-v")
    first = client.get("/api/fleet/health", headers=desk).json()
    assert client.get("/api/fleet/health?state=offline", headers=desk).json()["total"] == 1
    assert client.get("/api/fleet/visits", headers=desk).status_code == 200
    mine = client.get("/api/fleet/health", headers=village).json()
    assert [h["id"] for h in mine["items"]] == ["home-3"] and mine["total"] == 1
    assert len(reads) == 1 and first["total"] == 3

    Watch(context.sessions, context.clock).observe("home-2", agent("home-2"))  # back online
    assert client.get("/api/fleet/health?state=offline",
                      headers=desk).json()["total"] == 1  # the shared read, a moment old
    advance(context, route.FLEET_READ_S + 1)
    assert client.get("/api/fleet/health?state=offline", headers=desk).json()["total"] == 0
    assert len(reads) == 2

    monkeypatch.setattr(route, "FLEET_READ_S", 0.0)  # and by the wall clock alone
    client.get("/api/fleet/health", headers=desk)
    assert len(reads) == 3


def test_health_api_filters_by_station_and_state_pages_and_scopes(tmp_path: Path,
                                                                  db_url: str) -> None:
    context = world(tmp_path, db_url)
    _fill(context)
    client = TestClient(create_app(context))
    desk = login(context, "desk")
    answer = client.get("/api/fleet/health", headers=desk).json()
    assert [h["id"] for h in answer["items"]] == ["home-2", "home-3", "home-1"]
    assert answer["total"] == 3 and answer["counts"]["offline"] == 1
    assert answer["counts"]["device_silent"] == 1 and answer["counts"]["healthy"] == 0
    home2 = answer["items"][0]
    assert home2["agent"]["state"] == "offline" and home2["agent"]["since"] == T0
    assert home2["states"] == ["offline"] and home2["resident"] == "Li"

    def ids(query: str, who: dict[str, str] = desk) -> list[str]:
        got = client.get(f"/api/fleet/health?{query}", headers=who)
        assert got.status_code == 200, got.text
        return [h["id"] for h in got.json()["items"]]

    assert ids("site=village") == ["home-3"]
    assert ids("state=offline&state=low_battery") == ["home-2", "home-1"]
    assert ids("state=online&site=town") == ["home-1"]
    assert ids("limit=1&offset=1") == ["home-3"]
    town = login(context, "caregiver", person="cg-a")
    assert ids("", town) == ["home-2", "home-1"]
    assert ids("site=village", town) == []  # another station's homes are absent
    scoped = headers(integration_token(context, sites=["village"]))
    assert ids("", scoped) == ["home-3"]
    family = login(context, "family", person=None, home="home-1")
    assert client.get("/api/fleet/health", headers=family).status_code == 403
    for bad in ("limit=501", "offset=-1", "state=asleep", "site=" + "x" * 65):
        assert client.get(f"/api/fleet/health?{bad}", headers=desk).status_code == 422, bad


def test_visits_say_why_in_chinese_and_english(context: WebContext) -> None:
    _fill(context)
    client = TestClient(create_app(context))
    desk = login(context, "desk")
    answer = client.get("/api/fleet/visits", headers=desk).json()
    assert answer["counts"] == {"agent_offline": 0, "device_silent": 1, "device_fault": 0,
                                "low_battery": 1}  # offline for 1 h: not yet a visit
    answer = client.get("/api/fleet/visits?offline_hours=0.5", headers=desk).json()
    got = [(v["home"], v["device"], v["reason"], v["detail"]) for v in answer["items"]]
    assert got == [("home-2", None, "agent_offline", ""),
                   ("home-3", "button", "device_silent", ""),
                   ("home-1", "button", "low_battery", "12 %")]
    offline = answer["items"][0]
    assert offline["text_zh"] == "家庭网关离线：请检查电源和网络"
    assert offline["text_en"] == "Home unit offline: check its power and network"
    assert all(v["text_zh"] != v["text_en"] for v in answer["items"])
    village = login(context, "caregiver", person="cg-v")
    mine = client.get("/api/fleet/visits?offline_hours=0", headers=village).json()
    assert [v["home"] for v in mine["items"]] == ["home-3"]
    assert client.get("/api/fleet/visits?offline_hours=-1", headers=desk).status_code == 422


# -- a demo site -------------------------------------------------------------------------------


def test_the_desk_sees_an_unplugged_device_and_a_stopped_agent(site: Site) -> None:
    """Three homes; home-002's receiver goes quiet, home-003's agent is stopped."""
    site.add_home(resident="Resident 3", address="Street 3", button=102, heartbeat_s=0.5)
    for home in site.homes:  # the agents call a receiver silent after 3 s of nothing
        home.devices[0]["silent_after_s"] = 3.0
    site.start_hub()
    for home in site.homes:
        site.start_agent(home)
    site.wait_online()
    wait_for(lambda: all(h["devices"] for h in site.get("/api/fleet/health")["items"]))

    site.buttons["home-002"].stalled = True  # unplugged: not a byte more on its line
    site.agents["home-003"].stop()

    def settled() -> dict[str, Any] | None:
        answer = site.get("/api/fleet/health")
        states = {h["id"]: h["states"] for h in answer["items"]}
        ready = "device_silent" in states["home-002"] and "offline" in states["home-003"]
        return answer if ready else None

    answer = wait_for(settled, timeout=30)
    assert answer, site.get("/api/fleet/health")
    homes = {h["id"]: h for h in answer["items"]}
    assert homes["home-001"]["states"] == ["online", "healthy"]
    [button] = homes["home-001"]["devices"]
    assert (button["id"], button["silent"], button["fault"]) == ("bedside-button", False, None)
    healthy = homes["home-001"]["agent"]
    assert healthy["version"] and healthy["outbox_depth"] is not None
    assert healthy["last_seen"] > time.time() - 60
    [quiet] = homes["home-002"]["devices"]
    assert (quiet["id"], quiet["silent"], quiet["supervision_s"]) == ("bedside-button", True,
                                                                      3.0)
    assert homes["home-002"]["agent"]["state"] == "online"
    assert homes["home-003"]["agent"]["state"] == "offline"
    assert not any(d["silent"] for d in homes["home-003"]["devices"])
    # Most urgent first: both troubled homes (each with its open alert) before the healthy one.
    assert [h["id"] for h in answer["items"]][-1] == "home-001"

    visits = site.get("/api/fleet/visits?offline_hours=0")["items"]
    got = {(v["home"], v["device"], v["reason"]) for v in visits}
    assert got == {("home-003", None, "agent_offline"),
                   ("home-002", "bedside-button", "device_silent")}
    silent = next(v for v in visits if v["reason"] == "device_silent")
    assert silent["text_zh"].startswith("设备") and silent["text_en"].startswith("Device silent")
    assert site.get("/api/fleet/visits")["counts"]["agent_offline"] == 0  # not 2 h yet
