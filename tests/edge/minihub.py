"""A tiny stand-in for the hub on a real broker: records what a home sends, answers receipts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, Self

import aiomqtt

from bedwatch import wire
from edge.config import MqttConfig
from rig.stack import Mosquitto


def home_mqtt(broker: Mosquitto, home: str, **options: Any) -> MqttConfig:
    """Return the agent's MQTT config for `home` on `broker`, enrolling the home on first use."""
    creds = broker.home_credentials(home)
    return MqttConfig(port=broker.port, username=creds.username, password=creds.password,
                      client_id=creds.client_id, **options)


def home_mqtt_doc(broker: Mosquitto, home: str) -> dict[str, Any]:
    """Return the [mqtt] table of an edge config file for `home` on `broker`."""
    creds = broker.home_credentials(home)
    return {"host": "127.0.0.1", "port": broker.port, "username": creds.username,
            "password": creds.password, "client_id": creds.client_id}


class MiniHub:
    """Subscribe to one home's topics; publish a Receipt for each event copy while `answer`."""

    def __init__(self, broker: Mosquitto, home: str, *, answer: bool = True) -> None:
        self.broker = broker
        # A hub identity of its own: the hub's role, bound to this client id.
        self.credentials = broker.hub_credentials(f"minihub-{home}")
        self.home = home
        self.answer = answer
        self.copies: list[dict[str, Any]] = []  # every event copy, in arrival order
        self.raw: dict[str, list[bytes]] = {}  # event id -> payloads as received
        self.statuses: list[dict[str, Any]] = []
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._task

    async def _run(self) -> None:
        creds = self.credentials
        async with aiomqtt.Client("127.0.0.1", self.broker.port, identifier=creds.client_id,
                                  username=creds.username, password=creds.password) as client:
            self._client = client
            await client.subscribe(wire.events_topic(self.home), qos=1)
            await client.subscribe(wire.status_topic(self.home), qos=1)
            self._ready.set()
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                if message.topic.value.endswith("/events"):
                    event = json.loads(payload)
                    self.copies.append(event)
                    self.raw.setdefault(event["id"], []).append(payload)
                    if self.answer:
                        await self.receipt([event["id"]])
                elif payload:
                    self.statuses.append(json.loads(payload))

    async def receipt(self, ids: list[str], home: str | None = None) -> None:
        """Publish a Receipt naming `ids` (on another home's topic when `home` is given)."""
        await self.publish(wire.receipts_topic(home or self.home),
                           wire.encode(wire.Receipt(ids=ids, t=time.time())))

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish anything the hub may, e.g. garbage on the receipts topic."""
        assert self._client is not None
        await self._client.publish(topic, payload, qos=1)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        """Return the distinct events of a kind, first copy of each, in arrival order."""
        seen: dict[str, dict[str, Any]] = {}
        for event in self.copies:
            if event["kind"] == kind:
                seen.setdefault(event["id"], event)
        return list(seen.values())


async def until(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Wait for real I/O (broker, serial line) until `predicate` holds; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    return predicate()
