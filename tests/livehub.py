"""A hub in this process against real Mosquitto and InfluxDB servers, for live tests.

Loaded as a pytest plugin by `tests/conftest.py`, so `live_hub` is a fixture everywhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt
import pytest

from bedwatch import wire
from hub.broker import BrokerCredentials
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
    hub_id = f"hub-{uuid.uuid4().hex[:6]}"
    credentials = mosquitto.hub_credentials(hub_id)
    config = site_config(
        tmp_path,
        mqtt={"port": mosquitto.port, "client_id": hub_id, "password": credentials.password},
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


# Channels a home publishes on; anything else needs the rig's test-only publisher.
_HOME_CHANNELS = {wire.Channel.READINGS, wire.Channel.EVENTS, wire.Channel.STATUS,
                  wire.Channel.DEVICE_STATUS, wire.Channel.CMD_ACK}


def sender_for(broker: Mosquitto, topic: str) -> BrokerCredentials:
    """Return who publishes on `topic` in a test: the home named in it, enrolled on first use,
    or, for a topic no home may publish on (hostile-input tests), the rig's test publisher."""
    try:
        home, channel, _ = wire.parse_topic(topic)
    except wire.WireError:
        return broker.rig_credentials()
    if channel not in _HOME_CHANNELS:
        return broker.rig_credentials()
    return broker.home_credentials(home)


def connect(broker: Mosquitto, credentials: BrokerCredentials, **options: Any) -> aiomqtt.Client:
    """Return an aiomqtt client that connects as `credentials` (its bound client id)."""
    return aiomqtt.Client("127.0.0.1", broker.port, identifier=credentials.client_id,
                          username=credentials.username, password=credentials.password,
                          **options)


# Brokers of the running tests by port, so that callers may name a broker by its port.
BROKERS: dict[int, Mosquitto] = {}


async def publish(broker: Mosquitto | int, *messages: tuple[str, bytes]) -> None:
    """Publish at QoS 1, in order, each message as the home named in its topic would."""
    if isinstance(broker, int):
        broker = BROKERS[broker]
    clients: dict[str, aiomqtt.Client] = {}
    async with contextlib.AsyncExitStack() as stack:
        for topic, payload in messages:
            sender = sender_for(broker, topic)
            if sender.username not in clients:
                clients[sender.username] = await stack.enter_async_context(
                    connect(broker, sender))
            # Awaited one by one (PUBACK before the next): the broker keeps this order.
            await clients[sender.username].publish(topic, payload, qos=1)


async def until(predicate: Callable[..., object], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def event_payload(kind: str = "call", **overrides: object) -> bytes:
    body = {"v": 1, "id": uuid.uuid4().hex, "seq": 1, "t": T, "device": "btn", "kind": kind,
            "severity": "critical", "data": {"button": 7}}
    body.update(overrides)
    return json.dumps(body).encode()


