"""Zigbee SOS buttons and presence sensors through a local zigbee2mqtt.

zigbee2mqtt publishes a device's state on `<base>/<friendly_name>` as JSON and its
availability on `<base>/<friendly_name>/availability` (`online`/`offline`, or JSON
`{"state": ...}`). Keys differ by model: Tuya panic buttons send `action: emergency`,
Feibit SEB01ZB `sos: true`, Aqara FP1 `presence`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, Self

import aiomqtt
from pydantic import Field

from edge.drivers.base import DeviceConfigBase, DeviceEvent, DeviceHealth, DriverItem, Reading

log = logging.getLogger(__name__)

CALL_ACTIONS = frozenset({"emergency", "sos", "panic"})


class ZigbeeConfig(DeviceConfigBase):
    """One device paired with the home's zigbee2mqtt."""

    type: Literal["zigbee"] = Field(description="Driver type.")
    friendly_name: str = Field(min_length=1, description="The device's name in zigbee2mqtt.")
    host: str = Field("127.0.0.1", description="The local broker zigbee2mqtt publishes to.")
    port: int = Field(1883, gt=0, lt=65536, description="Its port.")
    base_topic: str = Field("zigbee2mqtt", description="zigbee2mqtt's base topic.")
    low_battery_pct: int = Field(20, ge=0, le=100, description="Warn at or below this battery.")
    silent_after_s: float = Field(
        90_000.0, gt=0,
        # EN 50134-2: a wireless trigger must signal at least every 24 h.
        description="No message for this long raises device_silent (25 h).")


def decode_state(device: str, payload: bytes, t: float, *, low_battery_pct: int = 20
                 ) -> list[DriverItem]:
    """Turn one zigbee2mqtt state message into readings and events; ValueError if not JSON."""
    try:
        state = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"state is not JSON: {exc}") from exc
    if not isinstance(state, dict):
        raise ValueError("state is not a JSON object")
    items: list[DriverItem] = []
    fields: dict[str, bool | int | float | str] = {}
    evidence: dict[str, Any] = {}
    for key in ("battery", "linkquality", "voltage"):
        value = state.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            fields[{"battery": "battery_pct", "voltage": "voltage_mv"}.get(key, key)] = value
            evidence[key] = value
    if isinstance(state.get("presence"), bool):
        fields["presence"] = state["presence"]
    if str(state.get("action", "")).lower() in CALL_ACTIONS or state.get("sos") is True:
        items.append(DeviceEvent(device, "call", t, {"source": "zigbee", **evidence}))
    if state.get("tamper") is True:
        items.append(DeviceEvent(device, "device_fault", t, {"reason": "tamper"}))
    battery = state.get("battery")
    if state.get("battery_low") is True or (
            isinstance(battery, (int, float)) and not isinstance(battery, bool)
            and battery <= low_battery_pct):
        items.append(DeviceEvent(device, "low_battery", t, evidence))
    if fields:
        items.insert(0, Reading(device, "zigbee", t, fields))
    return items


def decode_availability(payload: bytes) -> bool:
    """Return True for online; accept `online`/`offline` and `{"state": ...}`."""
    text = payload.decode(errors="replace").strip()
    if text.startswith("{"):
        try:
            text = str(json.loads(text).get("state", ""))
        except (json.JSONDecodeError, AttributeError) as exc:
            raise ValueError(f"availability is not understood: {text[:60]}") from exc
    if text not in ("online", "offline"):
        raise ValueError(f"availability {text[:60]!r} is neither online nor offline")
    return text == "online"


class ZigbeeDriver:
    """Subscribe to one device on the local zigbee2mqtt broker."""

    def __init__(self, config: ZigbeeConfig, client_factory: Callable[[], aiomqtt.Client]
                 | None = None, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.device_id = config.id
        self._clock = clock
        self._factory = client_factory or (lambda: aiomqtt.Client(config.host, config.port))
        self.errors: dict[str, int] = {"decode": 0, "disconnects": 0}
        self.state_topic = f"{config.base_topic}/{config.friendly_name}"
        self.availability_topic = f"{self.state_topic}/availability"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def handle(self, topic: str, payload: bytes, t: float) -> list[DriverItem]:
        """Decode one message of this device; count and skip what is malformed."""
        try:
            if topic == self.availability_topic:
                online = decode_availability(payload)
                return [DeviceHealth(self.device_id, t, online, errors=dict(self.errors)),
                        DeviceEvent(self.device_id,
                                    "device_recovered" if online else "device_fault", t,
                                    {} if online else {"reason": "zigbee2mqtt: offline"})]
            return decode_state(self.device_id, payload, t,
                                low_battery_pct=self.config.low_battery_pct)
        except ValueError as exc:
            self.errors["decode"] += 1
            log.warning("%s: skipped message on %s: %s", self.device_id, topic, exc)
            return []

    async def __aiter__(self) -> AsyncIterator[DriverItem]:
        delay = 0.5
        faulted = False
        while True:
            try:
                async with self._factory() as client:
                    await client.subscribe(self.state_topic, qos=1)
                    await client.subscribe(self.availability_topic, qos=1)
                    delay = 0.5
                    if faulted:
                        faulted = False
                        yield DeviceEvent(self.device_id, "device_recovered", self._clock(),
                                          {"broker": "reachable"})
                    async for message in client.messages:
                        payload = message.payload
                        data = payload if isinstance(payload, bytes) else \
                            str(payload or "").encode()
                        for item in self.handle(message.topic.value, data, self._clock()):
                            yield item
            except aiomqtt.MqttError as exc:
                self.errors["disconnects"] += 1
                if not faulted:
                    faulted = True
                    yield DeviceEvent(self.device_id, "device_fault", self._clock(),
                                      {"reason": f"zigbee2mqtt broker: {exc}"})
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, 30.0)
