"""A simulated zigbee2mqtt: publishes what it would for an SOS button, on a real broker."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt


class ZigbeeButtonSim:
    """Publish zigbee2mqtt messages of one button (a Tuya BT400B-like panic button)."""

    def __init__(self, host: str, port: int, friendly_name: str = "sos_button",
                 base_topic: str = "zigbee2mqtt") -> None:
        self.topic = f"{base_topic}/{friendly_name}"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.connect(host, port)
        self._client.loop_start()

    def _publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def press(self, battery: int = 100) -> None:
        self._publish(self.topic, json.dumps({"action": "emergency", "battery": battery,
                                              "voltage": 3000, "linkquality": 120}))

    def report(self, **state: object) -> None:
        self._publish(self.topic, json.dumps(state))

    def availability(self, online: bool, as_json: bool = True) -> None:
        text = "online" if online else "offline"
        self._publish(f"{self.topic}/availability",
                      json.dumps({"state": text}) if as_json else text, retain=True)

    def raw(self, payload: bytes) -> None:
        self._client.publish(self.topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
