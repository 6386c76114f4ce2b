"""Acknowledged means durable: the hub acknowledges a reading batch only once InfluxDB has
it, so an InfluxDB outage or a killed hub loses no reading; the broker keeps the rest. Against
real Mosquitto and InfluxDB servers; each test runs an InfluxDB of its own, which it stops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bedwatch import wire
from hub.config import InfluxSection
from hub.influx import InfluxError, InfluxWriter
from hub.ingest import AckWindow
from hub.service import Hub
from hub.watchdog import read_health
from rig.sink import NotificationSink
from rig.stack import InfluxDB, Mosquitto
from tests.livehub import T, connect, event_payload, until
from tests.sitefixture import Site

HOME = "home-1"
PER_BATCH = 5


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[InfluxDB]:
    """An InfluxDB of this test's own (the session's is shared): stopped and started again on
    the same port with the same data."""
    server = InfluxDB(tmp_path / "influxdb")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_acknowledgements_leave_in_arrival_order_only_for_a_settled_prefix() -> None:
    """Proves: a stored message waits for every earlier one (MQTT 3.1.1 §4.6); each packet id
    is acknowledged once, in the order the messages arrived."""
    window = AckWindow()
    slots = [window.open(mid) for mid in (7, 8, 9, 10, 11)]
    assert window.settle(slots[1]) == []  # 8 is stored, 7 is not: nothing may go
    assert window.settle(slots[3]) == []
    assert window.settle(slots[0]) == [7, 8]
    assert len(window) == 3
    assert window.settle(slots[2]) == [9, 10]
    assert window.settle(slots[4]) == [11]
    assert len(window) == 0
    late = window.open(12)
    assert window.settle(late) == [12]  # nothing ahead of it: at once (a rejected message)


def test_a_closed_window_cancels_what_it_waited_for() -> None:
    """Proves: when the session is lost, nothing held is acknowledged later on a new one."""
    cancelled: list[int] = []

    class Waiting:
        def __init__(self, n: int) -> None:
            self.n = n

        def when_stored(self, callback: Any) -> None:
            pass

        def cancel(self) -> None:
            cancelled.append(self.n)

    window = AckWindow()
    for mid in (1, 2):
        window.open(mid).pending = Waiting(mid)
    assert window.close() == 2
    assert cancelled == [1, 2] and len(window) == 0


def _batch(seq: int) -> bytes:
    return wire.encode(wire.ReadingBatch(agent=HOME, seq=seq, readings=[
        wire.Reading(device="bed", kind="vitals", t=T + seq + i / 10,
                     fields={"heart_rate_bpm": 60 + i, "seq": seq})
        for i in range(PER_BATCH)]))


async def _publish_batches(mosquitto: Mosquitto, seqs: range) -> None:
    async with connect(mosquitto, mosquitto.home_credentials(HOME),
                       max_inflight_messages=1000) as client:
        await asyncio.gather(*(client.publish(wire.readings_topic(HOME), _batch(seq), qos=1)
                               for seq in seqs))


async def _stored(url: str, database: str) -> tuple[int, int]:
    """Return (points of home-1's vitals, distinct times among them) in InfluxDB."""
    influx = InfluxWriter(InfluxSection(url=url, database=database))
    try:
        series = await influx.query(f"SELECT heart_rate_bpm FROM vitals WHERE home = '{HOME}'")
    except InfluxError as exc:
        if "database not found" in str(exc):
            return 0, 0
        raise
    finally:
        await influx.close()
    values = series[0]["values"] if series else []
    return len(values), len({row[0] for row in values})


@pytest.fixture
async def hub_with_window(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
                          ) -> AsyncIterator[tuple[Hub, NotificationSink]]:
    """A live hub whose readings window is small (20 messages), so that a backlog is more
    than it may hold."""
    from tests.hub.conftest import site_config

    sink = NotificationSink().start()
    credentials = mosquitto.hub_credentials("hub-durable")
    config = site_config(
        tmp_path,
        mqtt={"port": mosquitto.port, "client_id": "hub-durable",
              "password": credentials.password, "max_unacked": 20},
        influx={"url": influxdb.url, "database": f"t_{uuid.uuid4().hex[:8]}",
                "flush_interval_s": 0.1},
        flap_hold_s=0, tick_s=0.1,
        caregivers=[{"id": "cg-a", "name": "A", "site": "town", "notify": [sink.url("cg-a")]}],
    )
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop, serve_api=False))
    try:
        await until(lambda: hub.ingest.connected)
        yield hub, sink
    finally:
        stop.set()
        await task
        sink.stop()


async def test_readings_wait_at_the_broker_while_influxdb_is_down_and_all_arrive_once(
        hub_with_window: tuple[Hub, NotificationSink], mosquitto: Mosquitto,
        influxdb: InfluxDB) -> None:
    """Proves: with InfluxDB stopped the hub reads no more reading batches than its window
    (none is acknowledged, so the broker keeps them all); a call meanwhile is paged at once;
    when InfluxDB is back every reading is written, once."""
    hub, sink = hub_with_window
    database = hub.config.influx.database
    window = hub.config.mqtt.max_unacked
    batches = 100
    influxdb.stop()

    await _publish_batches(mosquitto, range(batches))
    await until(lambda: hub.ingest.counters["readings_received"] >= window)
    async with connect(mosquitto, mosquitto.home_credentials(HOME)) as client:
        await client.publish(wire.events_topic(HOME), event_payload(id="call-while-influx-down"),
                             qos=1)
    assert await sink.wait_for_async(lambda n: HOME in n.text), "the call was not paged"
    await until(lambda: hub.writer.counters["write_errors"] >= 2)
    held = hub.ingest.counters["readings_received"]
    print(f"InfluxDB down: batches sent={batches} taken by the hub={held} (window {window}) "
          f"written={hub.writer.counters['written']} pending={hub.writer.pending}")
    assert held == window, "the hub read past its window"
    assert hub.writer.counters["written"] == 0
    assert read_health(hub).influx_ok is False  # what raises influx_down after its threshold

    influxdb.start()
    await until(lambda: hub.ingest.counters["readings_received"] == batches, timeout=60)
    await until(lambda: hub.writer.pending == 0, timeout=60)
    points, distinct = await _stored(influxdb.url, database)
    written = hub.writer.counters["written"]
    print(f"InfluxDB back: readings sent={batches * PER_BATCH} stored={points} "
          f"distinct={distinct} lines written={written} (readings among them "
          f"{hub.writer.counters['readings_written']}) "
          f"write errors={hub.writer.counters['write_errors']}")
    assert points == distinct == batches * PER_BATCH
    # Each reading written once; the rest are the call's marker and the desk's points.
    assert hub.writer.counters["readings_written"] == batches * PER_BATCH
    assert written > batches * PER_BATCH


async def test_readings_a_killed_hub_held_unwritten_arrive_after_its_restart(
        site: Site) -> None:
    """Proves: readings the hub had taken but not written when it was killed (SIGKILL) were
    never acknowledged, so the broker delivers them again to the restarted hub: none lost."""
    batches = 40
    influx = {"url": site.influxdb.url, "database": site.database}
    # A hub that holds readings for an hour before writing: all it takes is unwritten.
    site.start_hub(influx={**influx, "flush_interval_s": 3600})  # answers once subscribed
    await _publish_batches(site.mosquitto, range(batches))
    await until(lambda: site.get("/api/stats")["ingest"].get("readings_received", 0) >= batches,
                timeout=30)
    stats = site.get("/api/stats")
    assert stats["influx"]["written"] == 0
    assert stats["influx"]["pending_readings"] == batches * PER_BATCH
    assert site.hub is not None
    site.hub.kill()

    site.start_hub(influx={**influx, "flush_interval_s": 0.2})

    async def all_stored() -> bool:
        points, _ = await _stored(site.influxdb.url, site.database)
        return points >= batches * PER_BATCH

    async with asyncio.timeout(60):
        while not await all_stored():
            await asyncio.sleep(0.2)
    points, distinct = await _stored(site.influxdb.url, site.database)
    print(f"readings sent={batches * PER_BATCH} held unwritten at the kill="
          f"{stats['influx']['pending']} stored after the restart={points} distinct={distinct}")
    assert points == distinct == batches * PER_BATCH
    assert site.hub is not None
    log = site.hub.log_path.read_text(errors="replace")
    assert "HTTP Request" not in log, "every InfluxDB request is logged again"
