"""The desk's points: written once an alert change commits (never on rollback), each alert's
times written once, paging untouched when InfluxDB is away, health lines and snapshots, and
the retention policies and continuous queries created idempotently on a real InfluxDB."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bedwatch import wire
from hub.config import InfluxSection
from hub.db import Alert, Page
from hub.desk_points import DeskPoints, agent_line, device_line, home_state_lines
from hub.influx import InfluxWriter
from rig.stack import InfluxDB, free_port
from tests.hub.conftest import RecordingNotifier
from tests.hub.engine import fire, make, run_until


class Lines:
    """Stands in for the writer's best-effort buffer: the lines handed over."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.config = InfluxSection(url="http://127.0.0.1:1", database="x")

    def add(self, lines: list[str]) -> None:
        self.lines.extend(lines)

    def of(self, change: str) -> list[str]:
        return [line for line in self.lines if f",change={change}," in line]


def _fields(line: str) -> dict[str, str]:
    head, _time = line.rsplit(" ", 1)
    _series, fields = head.split(" ", 1)
    return dict(part.split("=", 1) for part in fields.split(","))


@pytest.fixture
def desk(tmp_path: Path) -> tuple[Any, Lines]:
    engine = make(tmp_path, RecordingNotifier())
    lines = Lines()
    DeskPoints(lines, engine.sessions, engine.clock)  # type: ignore[arg-type]
    return engine, lines


async def test_alert_life_is_written_once_per_step_with_its_times(
        desk: tuple[Any, Lines]) -> None:
    engine, lines = desk
    alert = fire(engine, "home-1", "call", "btn")
    assert alert is not None
    (opened,) = lines.of("opened")
    assert opened.startswith("alert_state,change=opened,home=home-1,kind=call,"
                             "severity=critical,site=town,state=open ")
    assert _fields(opened)["ack_breach"] == "0i" and "seconds_to_ack" not in opened
    engine.clock.t += 240
    engine.transition(alert.id, "acknowledged", "cg-a")
    engine.clock.t += 480
    engine.transition(alert.id, "on_site", "cg-a")
    engine.clock.t += 300
    engine.transition(alert.id, "resolved", "cg-a", resolution="false_alarm")
    (ack,), (site,), (done,) = lines.of("acknowledged"), lines.of("on_site"), lines.of("resolved")
    assert _fields(ack)["seconds_to_ack"] == "240"
    assert _fields(site)["seconds_to_site"] == "720" and "seconds_to_ack" not in site
    resolved = _fields(done)
    assert resolved["false_alarm"] == "1i" and resolved["resolution"] == '"false_alarm"'
    assert "seconds_to_ack" not in resolved and "seconds_to_site" not in resolved
    assert resolved["alert_id"] == f"{alert.id}i" and resolved["life_safety"] == "1i"


async def test_a_breach_and_a_machine_resolution_count_as_such(
        desk: tuple[Any, Lines]) -> None:
    engine, lines = desk
    alert = fire(engine, "home-1", "call", "btn")
    assert alert is not None
    await run_until(engine, 130, step=10)  # the town's acknowledgement target is 120 s
    (breach,) = lines.of("sla_ack_breached")
    assert _fields(breach)["ack_breach"] == "1i"
    fire(engine, "home-1", "device_silent", "bed")
    with engine.sessions() as session:
        silent = session.scalars(select(Alert).where(Alert.kind == "device_silent")).one()
        engine.records.set_state(session, silent, "resolved", "system", engine.clock.now(),
                                 resolution="auto")
        session.commit()
    machine = _fields(lines.of("resolved")[-1])
    # Nobody acknowledged or went: no time to acknowledge, no false-alarm judgement.
    assert "seconds_to_ack" not in machine and "false_alarm" not in machine


def test_a_rolled_back_change_writes_nothing(desk: tuple[Any, Lines]) -> None:
    engine, lines = desk
    with engine.sessions() as session:
        engine.on_event(session, "home-1", "call", "btn", engine.clock.now(), {})
        session.rollback()
    assert lines.lines == []
    fire(engine, "home-1", "call", "btn")
    assert len(lines.of("opened")) == 1


async def test_paging_goes_on_while_influxdb_is_away(tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    engine = make(tmp_path, notifier)
    writer = InfluxWriter(InfluxSection(url=f"http://127.0.0.1:{free_port()}",
                                        database="gone"))
    DeskPoints(writer, engine.sessions, engine.clock)
    alert = fire(engine, "home-1", "call", "btn")
    assert alert is not None
    await run_until(engine, 1)
    engine.transition(alert.id, "acknowledged", "cg-a")
    assert notifier.sent, "the call was not paged"
    with engine.sessions() as session:
        assert session.scalars(select(Page)).first() is not None
    # Held for later in the writer's bounded buffer; nothing raised, nothing waited.
    assert writer.pending == 2 and not writer.reachable
    await writer.close()


def test_health_lines_carry_site_and_counters() -> None:
    status = wire.AgentStatus(agent="home-1", state="online", t=1_764_000_000.0,
                              version="0.1.0", outbox_depth=4, clock_synced=False,
                              degraded=["outbox_disk"])
    line = agent_line("home-1", "town", status, 1_764_000_000.0, 1_764_000_002.5)
    assert line.startswith("agent_health,home=home-1,site=town ")
    fields = _fields(line)
    assert fields["clock_synced"] == "0i" and fields["outbox_depth"] == "4i"
    assert fields["clock_offset_s"] == "-2.5" and fields["degraded"] == '"outbox_disk"'
    will = _fields(agent_line("home-1", "town", wire.AgentStatus(agent="home-1",
                                                                 state="offline"), 1.0, 1.0))
    assert will["online"] == "0i" and will["clock_synced"] == "-1i" and "version" not in will
    device = wire.DeviceStatus(device="bed", t=1.0, connected=True, battery_pct=55,
                               errors={"crc": 2, "timeout": 1})
    fields = _fields(device_line("home-1", "town", device, 1.0))
    assert fields["errors_total"] == "3i" and fields["errors_crc"] == "2i"
    assert fields["battery_pct"] == "55"


def test_snapshot_counts_each_home_and_its_alerts(desk: tuple[Any, Lines]) -> None:
    engine, _ = desk
    fire(engine, "home-1", "call", "btn")
    fire(engine, "home-1", "device_silent", "bed")
    with engine.sessions() as session:
        (line,) = home_state_lines(session, engine.clock.now() + 1, 60.0)
    fields = _fields(line)
    assert line.startswith("home_state,home=home-1,site=town ")
    assert fields["state"] == '"open_alert"' and fields["offline"] == "1i"
    assert fields["open_critical"] == "1i" and fields["open_high"] == "1i"
    assert fields["silent_devices"] == '"bed"' and fields["alerts_opened"] == "2i"
    assert float(fields["bed_days"]) == pytest.approx(60 / 86400)


async def test_schema_is_created_idempotently(influxdb: InfluxDB, tmp_path: Path) -> None:
    database = f"schema_{uuid.uuid4().hex[:8]}"
    engine = make(tmp_path, RecordingNotifier())
    writer = InfluxWriter(InfluxSection(url=influxdb.url, database=database))
    desk = DeskPoints(writer, engine.sessions, engine.clock)
    await desk.ensure_schema()
    await desk.ensure_schema()  # a restart
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{influxdb.url}/query",
                                   data={"q": "SHOW CONTINUOUS QUERIES"})
        cqs = {row[0] for series in answer.json()["results"][0]["series"]
               if series["name"] == database for row in series.get("values", [])}
        answer = await client.post(f"{influxdb.url}/query",
                                   data={"q": f'SHOW RETENTION POLICIES ON "{database}"'})
        policies = {row[0]: row for row in answer.json()["results"][0]["series"][0]["values"]}
    assert cqs == {"cq_vitals_1h", "cq_alerts_1d", "cq_home_state_1d"}
    assert policies["long"][1] == "43800h0m0s" and policies["autogen"][4] is True
    await asyncio.wait_for(writer.close(), 5)
