"""Zigbee SOS buttons and presence sensors through the home's zigbee2mqtt.

zigbee2mqtt publishes a device's state on `<base>/<friendly_name>` as a JSON object and its
availability, retained, on `<base>/<friendly_name>/availability` (`online`/`offline`, or
`{"state": ...}`). What a device publishes depends on its converter in
zigbee-herdsman-converters, so each device's config says what the device is **for**
(`purpose`) instead of the driver guessing from words:

- `call_button`: every press is a `call`, whatever its `action` value (Tuya BT400B
  `emergency`; Heiman HS1EB, ORVIBO SE20-O/SE21, MultIR MIR-SO100 `single`/`double`/`hold`),
  except values that are not presses (`off`, `release`, the empty string); and an alarm key
  (Feibit SEB01ZB `sos`) turning true is a `call`.
- `presence`: `presence`/`occupancy` become readings; no `action` (Aqara FP1 publishes
  `region_<n>_enter` and the like) and no alarm key is ever a call.

Exactly one call per press. zigbee2mqtt's `cache_state` (on by default) merges the device's
last state into every message, so `sos: true` rides along on later battery reports: alarm
keys, `tamper` and `battery_low` act on changes (false or unknown → true), not on every
message. `action` is never cached (zigbee2mqtt `lib/state.ts`, its list of properties kept out
of the cache), so a message carrying an action is a fresh press; the empty action that
`homeassistant.legacy_action_sensor` sends after each one is not a press.

Decisions for the first messages after the driver starts:

- A **retained** message (zigbee2mqtt device option `retain: true`, replayed by the broker
  on subscribe, MQTT 3.1.1 §3.3.1.3) is history, not a new press: it seeds the known state
  and yields nothing, even if it carries an `action` or `sos: true`.
- A **live** message with `sos: true` while the state is unknown (the driver just started)
  is a call, marked `"before": "unknown"`: it may be a press made while the agent was down,
  or zigbee2mqtt's cached value (`cache_state_send_on_startup`). For a life-safety device one
  call too many beats one missed.
- If an alarm key is still true in a later message (the device did not clear it), a later
  press cannot be told from a cached repeat: the driver raises one `device_fault`
  (`alarm_latched`). Fix it in zigbee2mqtt with the device option `filtered_cache: [sos,
  tamper]` and set `alarm_keys_cached = false` here: then every `sos: true` is a press.

Messages while the driver is away from the broker. The driver keeps a persistent session
(stable client id, `clean_session=False`) and subscribes at QoS 1, so the broker stores what
arrives for it while it is disconnected and delivers it on reconnection. The broker may only
store **QoS 1/2** messages for a disconnected persistent client (MQTT 3.1.1 §3.1.2.4); but
zigbee2mqtt publishes device state at QoS 0 unless the device has `qos: 1`, and Mosquitto
queues QoS 0 for a persistent session only with `queue_qos0_messages true` (mosquitto.conf(5),
off by default). The home's setup must therefore have, in zigbee2mqtt, `qos: 1` on every
call button (or `device_options: {qos: 1}`), and in Mosquitto `persistence true`,
`queue_qos0_messages true` and a `max_queued_messages` well above 1000. What is still lost:
QoS 0 messages when `queue_qos0_messages` is off; anything beyond `max_queued_messages`;
messages queued but not yet saved when the broker itself crashes (`autosave_interval`);
presses while zigbee2mqtt or the broker is down (not this driver's to see). Every gap is
counted (`disconnects`, `broker_gap_s`, `long_gaps` in the device health), and a gap longer
than `gap_fault_s` raises `device_fault` with its length and `device_recovered` after.
"""

from __future__ import annotations

import json
import logging
import math
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, Self

import aiomqtt
from pydantic import Field

from bedwatch.connection import Backoff, Fault, Link, Report
from edge.drivers.base import DeviceConfigBase
from edge.items import DeviceEvent, DeviceHealth, DriverItem, Observation

log = logging.getLogger(__name__)

# zigbee2mqtt device messages are well under 2 KiB even with include_device_information.
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_DEPTH = 8
MAX_TEXT = 64
# Action values that are not presses: Heiman HS1EB / ORVIBO SE21 publish `off` for IAS zone
# status 0 (zigbee-herdsman-converters src/converters/fromZigbee.ts,
# command_status_change_notification_action); `release` ends a `hold` already called; `""` is
# zigbee2mqtt's legacy_action_sensor clear (zigbee2mqtt lib/util/settings.schema.json).
NOT_A_PRESS = frozenset({"", "off", "release"})
# Numeric keys: (published name, field name, low, high). Ranges from the expose definitions:
# battery 0–100 %, linkquality 0–255 (zigbee2mqtt.io docs/devices/BT400B.md).
NUMBERS = (("battery", "battery_pct", 0, 100), ("voltage", "voltage_mv", 0, 20_000),
           ("linkquality", "linkquality", 0, 255))
# zigbee-herdsman-converters ias_sos_alarm_2 (Feibit SEB01ZB): sos, tamper, battery_low.
STATE_KEYS = ("tamper", "battery_low")
PRESENCE_KEYS = ("presence", "occupancy")
# A local broker on the same Pi: retry often, so a gap is seen and ended within seconds.
RECONNECT_MIN_S = 0.25
RECONNECT_MAX_S = 2.0
KEEPALIVE_S = 10
_TOPIC_NAME = r"^[^#+\x00/](?:[^#+\x00]*[^#+\x00/])?$"

Purpose = Literal["call_button", "presence"]


class ZigbeeConfig(DeviceConfigBase):
    """One device paired with the home's zigbee2mqtt."""

    type: Literal["zigbee"] = Field(description="Driver type.")
    purpose: Purpose = Field(description=(
        "What the device is for: call_button (every press and every alarm key turning true "
        "is a call) or presence (readings only, never a call)."))
    friendly_name: str = Field(min_length=1, max_length=200, pattern=_TOPIC_NAME,
                               description="The device's name in zigbee2mqtt (no + or #).")
    host: str = Field("127.0.0.1", description="The local broker zigbee2mqtt publishes to.")
    port: int = Field(1883, gt=0, lt=65536, description="Its port.")
    base_topic: str = Field("zigbee2mqtt", min_length=1, max_length=200, pattern=_TOPIC_NAME,
                            description="zigbee2mqtt's base topic.")
    client_id: str | None = Field(
        None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="MQTT client id of the persistent session; default bedwatch-<home>-<id>.")
    alarm_keys: tuple[str, ...] = Field(
        ("sos",), max_length=8, description="Boolean keys whose turning true is a call.")
    alarm_keys_cached: bool = Field(
        True, description=("Whether zigbee2mqtt repeats the alarm keys in every message "
                           "(cache_state, its default); false when they are in the device's "
                           "filtered_cache, and then every true is a press."))
    low_battery_pct: int = Field(20, ge=0, le=100, description="Warn at or below this battery.")
    gap_fault_s: float = Field(
        5.0, gt=0, le=3600, description="A broker gap longer than this raises device_fault.")
    silent_after_s: float = Field(
        90_000.0, gt=0,
        # EN 50134-2: a wireless trigger must signal at least every 24 h.
        description="No message for this long raises device_silent (25 h).")


def _depth(value: Any) -> int:
    """Return the nesting depth of parsed JSON without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_state(payload: bytes) -> dict[str, Any]:
    """Return one state message as a dict; ValueError if too big, not JSON, not an object."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"state of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        state = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"state is not JSON: {str(exc)[:80]}") from exc
    if not isinstance(state, dict):
        raise ValueError(f"state is a JSON {type(state).__name__}, not an object")
    if _depth(state) > MAX_DEPTH:
        raise ValueError(f"state is nested deeper than {MAX_DEPTH}")
    return state


def known_values(state: dict[str, Any], alarm_keys: tuple[str, ...]
                 ) -> tuple[dict[str, bool | int | float | str], list[str]]:
    """Return the known keys with valid values, and the known keys whose values are odd."""
    good: dict[str, bool | int | float | str] = {}
    odd: list[str] = []
    for key, _, low, high in NUMBERS:
        if key in state:
            value = state[key]
            if (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value) and low <= value <= high):
                good[key] = value
            elif value is not None:
                odd.append(key)
    for key in (*alarm_keys, *STATE_KEYS, *PRESENCE_KEYS):
        if key in state:
            if isinstance(state[key], bool):
                good[key] = state[key]
            elif state[key] is not None:
                odd.append(key)
    for key in ("action", "presence_event"):
        if key in state:
            value = state[key]
            if isinstance(value, str) and len(value) <= MAX_TEXT and value.isprintable():
                good[key] = value
            elif value is not None:
                odd.append(key)
    return good, odd


def is_press(action: str) -> bool:
    """Return whether an action value of a call button is a press."""
    value = action.strip().lower()
    return value not in NOT_A_PRESS and not value.endswith("_release")


class ZigbeeDecoder:
    """Turn one device's state messages into readings and events, acting on changes."""

    def __init__(self, device: str, *, purpose: Purpose = "call_button",
                 alarm_keys: tuple[str, ...] = ("sos",), alarm_keys_cached: bool = True,
                 low_battery_pct: int = 20) -> None:
        self.device = device
        self.purpose = purpose
        self.alarm_keys = alarm_keys if purpose == "call_button" else ()
        self.alarm_keys_cached = alarm_keys_cached
        self.low_battery_pct = low_battery_pct
        self.odd_fields = 0
        self._known: dict[str, bool] = {}
        self._latched: set[str] = set()

    def _change(self, key: str, value: bool | None, retained: bool) -> str | None:
        """Record a state key; return what it was ("unknown"/"false") if it just rose."""
        before = self._known.get(key)
        if value is None:
            # Not in this message: zigbee2mqtt is not caching it, so the next true is news.
            self._known.pop(key, None)
            return None
        self._known[key] = value
        if retained or not value or before is True:
            return None
        return "unknown" if before is None else "false"

    def feed(self, payload: bytes, t: float, *, retained: bool = False) -> list[DriverItem]:
        """Decode one message; ValueError (and nothing else) if it is malformed."""
        values, odd = known_values(parse_state(payload), self.alarm_keys)
        self.odd_fields += len(odd)
        if odd:
            log.warning("%s: ignored odd values of %s", self.device, ", ".join(sorted(odd)))
        items: list[DriverItem] = []
        evidence: dict[str, Any] = {k: values[k] for k, *_ in NUMBERS if k in values}
        for key in self.alarm_keys:
            items += self._alarm(key, values.get(key), retained, t, evidence)
        action = values.get("action")
        if (self.purpose == "call_button" and isinstance(action, str) and not retained
                and is_press(action)):
            items.append(DeviceEvent(self.device, "call", t,
                                     {"source": "zigbee", "action": action, **evidence}))
        tamper = values.get("tamper")
        if self._change("tamper", tamper if isinstance(tamper, bool) else None, retained):
            items.append(DeviceEvent(self.device, "device_fault", t, {"reason": "tamper"}))
        battery = values.get("battery")
        low = values.get("battery_low") is True or (
            isinstance(battery, (int, float)) and battery <= self.low_battery_pct)
        known_low = low or "battery_low" in values or "battery" in values
        if self._change("low_battery", low if known_low else None, retained):
            items.append(DeviceEvent(self.device, "low_battery", t, evidence))
        fields = {name: values[key] for key, name, *_ in NUMBERS if key in values}
        fields |= {key: values[key] for key in PRESENCE_KEYS if key in values}
        if self.purpose == "presence" and "presence_event" in values:
            fields["presence_event"] = values["presence_event"]
        if fields and not retained:
            items.insert(0, Observation(self.device, "zigbee", t, fields))
        return items

    def _alarm(self, key: str, value: bool | int | float | str | None, retained: bool, t: float,
               evidence: dict[str, Any]) -> list[DriverItem]:
        if not isinstance(value, bool):
            if self.alarm_keys_cached:
                self._change(key, None, retained)
            return []
        if not self.alarm_keys_cached:
            fresh = value and not retained
            return [DeviceEvent(self.device, "call", t, {"source": "zigbee", "key": key,
                                                         **evidence})] if fresh else []
        was_true = self._known.get(key) is True
        before = self._change(key, value, retained)
        if before:
            return [DeviceEvent(self.device, "call", t, {"source": "zigbee", "key": key,
                                                         "before": before, **evidence})]
        if was_true and value and not retained and key not in self._latched:
            self._latched.add(key)
            return [DeviceEvent(self.device, "device_fault", t, {
                "reason": "alarm_latched", "key": key,
                "detail": f"{key} stays true: a later press is not seen until it clears; "
                          f"set filtered_cache in zigbee2mqtt and alarm_keys_cached = false"})]
        return []


def decode_state(device: str, payload: bytes, t: float, *, purpose: Purpose = "call_button",
                 low_battery_pct: int = 20) -> list[DriverItem]:
    """Decode one message as the first one after start; ValueError if it is malformed."""
    return ZigbeeDecoder(device, purpose=purpose, low_battery_pct=low_battery_pct).feed(
        payload, t)


def decode_availability(payload: bytes) -> bool:
    """Return True for online; accept `online`/`offline` and `{"state": ...}`."""
    if len(payload) > MAX_TEXT * 4:
        raise ValueError(f"availability of {len(payload)} bytes is too long")
    text = payload.decode(errors="replace").strip()
    if text.startswith("{"):
        try:
            text = str(json.loads(text).get("state", ""))
        except (json.JSONDecodeError, AttributeError, RecursionError) as exc:
            raise ValueError(f"availability is not understood: {text[:60]}") from exc
    if text not in ("online", "offline"):
        raise ValueError(f"availability {text[:60]!r} is neither online nor offline")
    return text == "online"


def default_client_id(device_id: str, home: str | None = None) -> str:
    """Return the stable client id of a device's persistent session."""
    owner = home or socket.gethostname() or "edge"
    return "bedwatch-" + re.sub(r"[^A-Za-z0-9_.-]", "_", f"{owner}-{device_id}")[:100]


class ZigbeeDriver:
    """Subscribe to one device on the local zigbee2mqtt broker, through a persistent session."""

    def __init__(self, config: ZigbeeConfig, client_factory: Callable[[], aiomqtt.Client]
                 | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, home: str | None = None
                 ) -> None:
        self.config = config
        self.device_id = config.id
        self._clock = clock
        self.client_id = config.client_id or default_client_id(config.id, home)
        self._factory = client_factory or (lambda: aiomqtt.Client(
            config.host, config.port, identifier=self.client_id, clean_session=False,
            keepalive=KEEPALIVE_S))
        self.decoder = ZigbeeDecoder(config.id, purpose=config.purpose,
                                     alarm_keys=config.alarm_keys,
                                     alarm_keys_cached=config.alarm_keys_cached,
                                     low_battery_pct=config.low_battery_pct)
        self.errors: dict[str, int] = {"decode": 0, "odd_fields": 0, "disconnects": 0,
                                       "broker_gap_s": 0, "long_gaps": 0}
        self.state_topic = f"{config.base_topic}/{config.friendly_name}"
        self.availability_topic = f"{self.state_topic}/availability"
        self._online: bool | None = None
        # A gap longer than gap_fault_s is a fault; on the driver's monotonic clock.
        self.link = Link(config.id, Backoff(RECONNECT_MIN_S, RECONNECT_MAX_S),
                         fault_after_s=config.gap_fault_s, clock=monotonic)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def _health(self, t: float) -> DeviceHealth:
        return DeviceHealth(self.device_id, t, self._online is not False, errors=dict(self.errors))

    def handle(self, topic: str, payload: bytes, t: float, *, retained: bool = False
               ) -> list[DriverItem]:
        """Decode one message of this device; count and skip what is malformed."""
        try:
            if topic == self.availability_topic:
                online, before = decode_availability(payload), self._online
                self._online = online
                items: list[DriverItem] = [self._health(t)]
                if not online and before is not False:
                    items.append(DeviceEvent(self.device_id, "device_fault", t,
                                             {"reason": "zigbee2mqtt: offline"}))
                elif online and before is False:
                    items.append(DeviceEvent(self.device_id, "device_recovered", t,
                                             {"reason": "zigbee2mqtt: online"}))
                return items
            if topic != self.state_topic:
                raise ValueError("not this device's topic")
            return self.decoder.feed(payload, t, retained=retained)
        except ValueError as exc:
            self.errors["decode"] += 1
            log.warning("%s: skipped message on %s: %s", self.device_id, topic[:120], exc)
            return []
        finally:
            self.errors["odd_fields"] = self.decoder.odd_fields

    def _gap_ended(self, gap: float, reports: list[Report]) -> list[DriverItem]:
        """Count a broker gap that just ended; report it if it was longer than gap_fault_s."""
        t = self._clock()
        self.errors["broker_gap_s"] += math.ceil(gap)
        items: list[DriverItem] = []
        for report in reports:  # nothing for a short gap; else its fault if not yet told, and
            if isinstance(report, Fault):  # its recovery
                items.append(DeviceEvent(self.device_id, "device_fault", t, {
                    "reason": "zigbee2mqtt broker gap", "gap_s": round(gap, 1)}))
            else:
                self.errors["long_gaps"] += 1
                items.append(DeviceEvent(self.device_id, "device_recovered", t, {
                    "reason": "zigbee2mqtt broker reachable", "gap_s": round(gap, 1)}))
        log.info("%s: back on the broker after %.1f s", self.device_id, gap)
        return [*items, self._health(t)]

    async def __aiter__(self) -> AsyncIterator[DriverItem]:
        link = self.link
        while True:
            try:
                async with self._factory() as client:
                    await client.subscribe(self.state_topic, qos=1)
                    await client.subscribe(self.availability_topic, qos=1)
                    was_down = link.in_outage
                    reports = link.up()
                    if was_down:
                        for item in self._gap_ended(link.last_outage_s or 0.0, reports):
                            yield item
                    async for message in client.messages:
                        payload = message.payload
                        data = payload if isinstance(payload, bytes) else \
                            str(payload or "").encode()
                        for item in self.handle(message.topic.value, data, self._clock(),
                                                retained=bool(message.retain)):
                            yield item
            except aiomqtt.MqttError as exc:
                if not link.in_outage:
                    self.errors["disconnects"] += 1
                    log.warning("%s: zigbee2mqtt broker: %s", self.device_id, exc)
                reason = f"zigbee2mqtt broker unreachable: {str(exc)[:120]}"
                # Told when the gap outgrows gap_fault_s, with what failed last.
                if (fault := link.down(reason)) is not None:
                    t = self._clock()
                    yield DeviceEvent(self.device_id, "device_fault", t, {
                        "reason": reason, "gap_s": round(fault.outage_s, 1)})
                    yield DeviceHealth(self.device_id, t, False, errors=dict(self.errors))
                await link.wait()
