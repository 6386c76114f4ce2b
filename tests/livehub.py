"""A hub in this process against real Mosquitto and InfluxDB servers, for live tests.

Loaded as a pytest plugin by `tests/conftest.py`, so `live_hub` is a fixture everywhere."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from rig.sink import NotificationSink
from rig.stack import InfluxDB, Mosquitto

if TYPE_CHECKING:
    from hub.service import Hub

T = 1_764_000_000.0


@pytest.fixture
async def live_hub(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
                   ) -> AsyncIterator[tuple[Hub, NotificationSink]]:
    # Imported here: this plugin is loaded for every test, edge-only ones included.
    from hub.service import Hub
    from tests.hub.conftest import site_config

    sink = NotificationSink().start()
    database = f"t_{uuid.uuid4().hex[:8]}"
    config = site_config(
        tmp_path,
        mqtt={"port": mosquitto.port, "client_id": f"hub-{uuid.uuid4().hex[:6]}"},
        influx={"url": influxdb.url, "database": database, "flush_interval_s": 0.1},
        flap_hold_s=0, tick_s=0.1,
        caregivers=[{"id": "cg-a", "name": "A", "site": "town", "notify": [sink.url("cg-a")]}],
        desk=[{"id": "desk-1", "name": "Desk", "notify": [sink.url("desk-1")]}],
        technicians=[{"id": "tech-1", "name": "Technician", "notify": [sink.url("tech-1")]}],
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


async def publish(port: int, *messages: tuple[str, bytes]) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


async def until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def event_payload(kind: str = "call", **overrides: object) -> bytes:
    body = {"v": 1, "id": uuid.uuid4().hex, "seq": 1, "t": T, "device": "btn", "kind": kind,
            "severity": "critical", "data": {"button": 7}}
    body.update(overrides)
    return json.dumps(body).encode()


