"""A simulated zigbee2mqtt: publishes what it would for one device, on a real broker.

Like zigbee2mqtt, it publishes device state at QoS 0 and not retained unless told otherwise
(the device options `qos` and `retain`, zigbee2mqtt.io docs/guide/configuration/devices-groups.md),
keeps a cache of the device's last state and merges it into every message (`cache_state`,
on by default) but never caches `action` (zigbee2mqtt lib/state.ts).
"""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt

# zigbee2mqtt lib/state.ts keeps these out of its cache (the ones a button uses).
_NOT_CACHED = ("action",)


class ZigbeeButtonSim:
    """Publish zigbee2mqtt messages of one device (a Tuya BT400B-like panic button by default)."""

    def __init__(self, host: str, port: int, friendly_name: str = "sos_button",
                 base_topic: str = "zigbee2mqtt", *, qos: int = 0, retain: bool = False,
                 cache_state: bool = True) -> None:
        self.topic = f"{base_topic}/{friendly_name}"
        self.qos = qos
        self.retain = retain
        self.cache_state = cache_state
        self.cache: dict[str, Any] = {}
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.connect(host, port)
        self._client.loop_start()

    def _publish(self, topic: str, payload: str | bytes, qos: int, retain: bool) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def report(self, **update: Any) -> dict[str, Any]:
        """Publish a converter's output as zigbee2mqtt would (merged with the cache)."""
        message = {**self.cache, **update} if self.cache_state else dict(update)
        if self.cache_state:
            self.cache = {k: v for k, v in message.items() if k not in _NOT_CACHED}
        self._publish(self.topic, json.dumps(message), self.qos, self.retain)
        return message

    def press(self, action: str = "emergency", battery: int = 100) -> dict[str, Any]:
        """Publish one press of the button (Tuya BT400B: `emergency`)."""
        return self.report(action=action, battery=battery, voltage=3000, linkquality=120)

    def availability(self, online: bool, as_json: bool = True) -> None:
        """Publish the retained availability message."""
        text = "online" if online else "offline"
        self._publish(f"{self.topic}/availability",
                      json.dumps({"state": text}) if as_json else text, 1, True)

    def raw(self, payload: bytes) -> None:
        """Publish arbitrary bytes on the device's state topic."""
        self._publish(self.topic, payload, self.qos, False)

    def close(self) -> None:
        """Disconnect from the broker."""
        self._client.loop_stop()
        self._client.disconnect()
