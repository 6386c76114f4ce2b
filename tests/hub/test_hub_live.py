"""The hub against a real Mosquitto and a real InfluxDB: bad input, readings, events, pages."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import select

from bedwatch import wire
from bedwatch.sink import NotificationSink
from bedwatch.stack import InfluxDB, Mosquitto
from hub.db import Alert, EventRecord
from hub.service import Hub
from tests.hub.conftest import site_config

T = 1_764_000_000.0


@pytest.fixture
async def live_hub(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
                   ) -> AsyncIterator[tuple[Hub, NotificationSink]]:
    sink = NotificationSink().start()
    database = f"t_{uuid.uuid4().hex[:8]}"
    config = site_config(
        tmp_path,
        mqtt={"port": mosquitto.port, "client_id": f"hub-{uuid.uuid4().hex[:6]}"},
        influx={"url": influxdb.url, "database": database, "flush_interval_s": 0.1},
        flap_hold_s=0, tick_s=0.1,
        caregivers=[{"id": "cg-a", "name": "A", "site": "town", "notify": [sink.url("cg-a")]}],
    )
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop, serve_api=False))
    async with asyncio.timeout(10):
        while not hub.ingest.connected:
            await asyncio.sleep(0.02)
    try:
        yield hub, sink
    finally:
        stop.set()
        await task
        sink.stop()


async def _publish(port: int, *messages: tuple[str, bytes]) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def _event(kind: str = "call", **overrides: object) -> bytes:
    body = {"v": 1, "id": uuid.uuid4().hex, "seq": 1, "t": T, "device": "btn", "kind": kind,
            "severity": "critical", "data": {"button": 7}}
    body.update(overrides)
    return json.dumps(body).encode()


async def test_malformed_messages_are_counted_by_reason_and_do_not_stop_the_hub(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    hub, sink = live_hub
    await _publish(
        mosquitto.port,
        ("bw/v1/home-1/events", b"{garbage"),
        ("bw/v1/home-1/events", _event(v=9)),
        ("bw/v1/home-1/events", b"{" + b" " * wire.MAX_PAYLOAD_BYTES + b"}"),
        ("bw/v1/home-1/events", _event(severity="apocalyptic")),
        ("bw/v1/home-1/readings", json.dumps({"v": 1, "agent": "home-1", "seq": 1,
                                              "readings": []}).encode()),
        ("bw/v1/home-1/events", _event("call")),  # a good one after all that
    )
    await _until(lambda: hub.ingest.counters["accepted"] >= 1)
    assert dict(hub.ingest.rejected) == {"json": 1, "version": 1, "size": 1, "schema": 2}
    notes = await sink.wait_for_async(lambda n: "home-1" in n.text)
    assert notes, "the valid call after the garbage was not paged"


async def test_readings_are_queryable_with_influxql(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    hub, _ = live_hub
    batch = wire.ReadingBatch(agent="home-1", seq=3, readings=[
        wire.Reading(device="bed", kind="vitals", t=T + i, fields={"heart_rate_bpm": 60 + i,
                                                                    "quality": 0.9})
        for i in range(5)])
    await _publish(mosquitto.port, (wire.readings_topic("home-1"), wire.encode(batch)))
    await _until(lambda: hub.writer.counters["written"] >= 5)
    series = await hub.writer.query(
        "SELECT mean(heart_rate_bpm) AS hr, count(heart_rate_bpm) AS n FROM vitals "
        "WHERE home = 'home-1' AND device = 'bed'")
    assert series[0]["values"][0][1:] == [62.0, 5]


async def test_duplicate_event_is_stored_once_and_pages_nobody_again(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    hub, sink = live_hub
    payload = _event("fall", id="fall-0001-abcdef")
    await _publish(mosquitto.port, (wire.events_topic("home-1"), payload),
                   (wire.events_topic("home-1"), payload))
    await _until(lambda: hub.ingest.counters["accepted"] >= 2)
    assert hub.duplicates == 1
    pages = await sink.wait_for_async(lambda n: "Fall detected" in n.text, within_s=3, count=2)
    assert len(pages) == 1
    with hub.sessions() as session:
        assert len(session.scalars(select(EventRecord)).all()) == 1
        [alert] = session.scalars(select(Alert)).all()
        assert (alert.kind, alert.event_count) == ("fall", 1)


async def test_agent_will_opens_an_offline_alert_and_return_resolves_it(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    hub, sink = live_hub
    online = wire.encode(wire.AgentStatus(agent="home-1", state="online", t=T))
    offline = wire.encode(wire.AgentStatus(agent="home-1", state="offline"))
    await _publish(mosquitto.port, (wire.status_topic("home-1"), online),
                   (wire.status_topic("home-1"), offline))
    assert await sink.wait_for_async(lambda n: "Home unit offline" in n.text)
    await _publish(mosquitto.port, (wire.status_topic("home-1"), online))
    await _until(lambda: hub.ingest.counters["accepted"] >= 3)
    with hub.sessions() as session:
        [alert] = session.scalars(select(Alert)).all()
    assert (alert.kind, alert.state, alert.resolution) == ("agent_offline", "resolved", "auto")
