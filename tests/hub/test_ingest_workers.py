"""Several ingest workers share the readings through the broker's shared subscription; a worker
killed mid-stream loses nothing. Against real Mosquitto and InfluxDB, with a real hub process
group (the hub in this process, its workers spawned)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bedwatch import wire
from hub.broker import ensure_hub_identity
from hub.config import InfluxSection
from hub.influx import InfluxError, InfluxWriter
from hub.service import Hub
from rig.stack import InfluxDB, Mosquitto
from tests.livehub import T, connect, until

HOMES = ("home-1", "home-2", "home-3")
PER_BATCH = 4


def _batch(home: str, seq: int) -> bytes:
    return wire.encode(wire.ReadingBatch(agent=home, seq=seq, readings=[
        wire.Reading(device="bed", kind="vitals", t=T + seq + i / 10,
                     fields={"heart_rate_bpm": 60.0 + i, "battery_pct": 80.0})
        for i in range(PER_BATCH)]))


async def _publish(mosquitto: Mosquitto, seqs: range) -> None:
    for home in HOMES:
        async with connect(mosquitto, mosquitto.home_credentials(home),
                           max_inflight_messages=1000) as client:
            await asyncio.gather(*(client.publish(wire.readings_topic(home), _batch(home, s),
                                                  qos=1) for s in seqs))


async def _stored(url: str, database: str) -> int:
    influx = InfluxWriter(InfluxSection(url=url, database=database))
    try:
        series = await influx.query("SELECT count(heart_rate_bpm) FROM vitals")
    except InfluxError as exc:
        if "database not found" in str(exc):
            return 0
        raise
    finally:
        await influx.close()
    return int(series[0]["values"][0][1]) if series else 0


@pytest.fixture
async def hub_with_workers(tmp_path: Path, mosquitto: Mosquitto,
                           influxdb: InfluxDB) -> AsyncIterator[Hub]:
    from tests.hub.conftest import site_config

    client_id = "hub-workers"
    credentials = mosquitto.hub_credentials(client_id)
    with mosquitto.admin_session() as admin:
        ensure_hub_identity(admin, client_id, credentials.password, workers=2)
    config = site_config(
        tmp_path,
        mqtt={"port": mosquitto.port, "client_id": client_id,
              "password": credentials.password, "ingest_workers": 2},
        influx={"url": influxdb.url, "database": f"t_{uuid.uuid4().hex[:8]}",
                "flush_interval_s": 0.1},
        homes=[{"id": home, "site": "town", "address": "Road 1",
                "resident": {"name": "Resident"}} for home in HOMES],
        tick_s=0.2)
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop, serve_api=False))
    try:
        await until(lambda: hub.ingest.connected, timeout=60)
        yield hub
    finally:
        stop.set()
        await task


async def test_workers_share_the_readings_and_a_killed_one_loses_nothing(
        hub_with_workers: Hub, mosquitto: Mosquitto, influxdb: InfluxDB) -> None:
    """Proves: two workers each store part of the readings (the shared subscription), the hub
    folds their counts into its own, and after one is SIGKILLed mid-stream it is started again
    on its session and every reading is stored."""
    hub = hub_with_workers
    assert hub.workers is not None
    database = hub.config.influx.database
    first = range(0, 60)
    await _publish(mosquitto, first)
    expected = len(HOMES) * len(first) * PER_BATCH
    await until(lambda: hub.ingest.counters["readings_received"] >= len(HOMES) * len(first),
                timeout=60)
    async with asyncio.timeout(60):
        while await _stored(influxdb.url, database) < expected:
            await asyncio.sleep(0.2)
    shares = {w: r["counters"].get("readings_received", 0)
              for w, r in hub.workers._last.items()}
    print(f"first round: stored={expected} per worker={shares} "
          f"rejected={dict(hub.ingest.rejected)}")
    assert sorted(shares) == [1, 2] and all(shares.values()), "a worker received nothing"
    assert sum(shares.values()) == len(HOMES) * len(first)
    assert hub.ingest.counters["accepted"] == len(HOMES) * len(first)

    os.kill(hub.workers.pids[2], signal.SIGKILL)
    second = range(60, 120)
    await _publish(mosquitto, second)  # some of it queued for the dead worker's session
    expected += len(HOMES) * len(second) * PER_BATCH
    async with asyncio.timeout(90):
        while await _stored(influxdb.url, database) < expected:
            await asyncio.sleep(0.2)
    await until(lambda: hub.ingest.connected, timeout=30)
    stored = await _stored(influxdb.url, database)
    print(f"after killing worker 2: restarts={hub.workers.restarts} stored={stored} "
          f"expected={expected}")
    assert hub.workers.restarts == 1
    assert stored == expected
    assert hub.ingest.rejected == {}


def test_each_worker_has_its_own_broker_user_and_the_shared_subscription() -> None:
    """Proves: broker-init's identities give worker n ≥ 2 `-readings-<n>`, the first keeps the
    one-process hub's readings lane, and the lanes subscribe to the shared filter only when
    there are several."""
    from hub.broker import hub_lane_identities
    from hub.ingest import READINGS, SHARED_READINGS, readings_lane

    assert hub_lane_identities("hub-a", None, 3) == [
        ("hub-a", "hub-a"), ("hub-a-readings", "hub-a-readings"),
        ("hub-a-readings-2", "hub-a-readings-2"), ("hub-a-readings-3", "hub-a-readings-3")]
    assert hub_lane_identities("hub-a", "user-a") == [
        ("user-a", "hub-a"), ("user-a-readings", "hub-a-readings")]
    assert readings_lane(1, 1) is READINGS and READINGS.unsubscribe == (SHARED_READINGS,)
    second = readings_lane(2, 3)
    assert second.client_suffix == "-readings-2"
    assert second.subscriptions == (SHARED_READINGS,)
    assert SHARED_READINGS == "$share/bedwatch/bw/v1/+/readings"
    assert readings_lane(1, 3).subscriptions == (SHARED_READINGS,)
