"""Zigbee devices through zigbee2mqtt: the makers' messages, junk, and a real broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.drivers.zigbee import (
    MAX_PAYLOAD_BYTES,
    ZigbeeConfig,
    ZigbeeDriver,
    decode_availability,
    decode_state,
)
from edge.items import DeviceEvent, DeviceHealth, DriverItem
from firmware_sim.zigbee import ZigbeeButtonSim
from rig.stack import HomeMosquitto
from tests.drivers.golden import cases, describe

CASES = cases(__file__)
TOPIC = "zigbee2mqtt/bedroom_sos"


def make_driver(purpose: str = "call_button", **extra: Any) -> ZigbeeDriver:
    config = ZigbeeConfig(type="zigbee", id="sos", purpose=purpose,
                          friendly_name="bedroom_sos", **extra)
    return ZigbeeDriver(config, home="home-001")


def kinds(items: list[DriverItem]) -> list[str]:
    return [i.kind for i in items if isinstance(i, DeviceEvent)]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path) -> None:
    config = json.loads((case / "config.json").read_text())
    driver = make_driver(**config)
    expected = json.loads((case / "expected.json").read_text())
    items: list[DriverItem] = []
    for i, line in enumerate((case / "input.jsonl").read_text().splitlines()):
        items += driver.handle(TOPIC, line.encode(), float(i))
    assert [describe(i) for i in items] == expected["items"]
    assert {k: driver.errors[k] for k in expected["errors"]} == expected["errors"]


# -- purpose, config ----------------------------------------------------------------------

@pytest.mark.parametrize("action", ["single", "double", "hold", "emergency", "SOS", "long"])
def test_every_press_of_a_call_button_calls(action: str) -> None:
    driver = make_driver()
    payload = json.dumps({"action": action, "battery": 90}).encode()
    assert kinds(driver.handle(TOPIC, payload, 1.0)) == ["call"]


@pytest.mark.parametrize("action", ["off", "release", "", " ", "hold_release"])
def test_values_that_are_not_presses_do_not_call(action: str) -> None:
    assert kinds(make_driver().handle(TOPIC, json.dumps({"action": action}).encode(), 1.0)) == []


def test_presence_sensor_actions_and_alarm_keys_never_call() -> None:
    driver = make_driver("presence")
    items = driver.handle(TOPIC, b'{"action":"region_1_enter","sos":true,"presence":true}', 1.0)
    assert kinds(items) == []
    assert describe(items[0]) == {"item": "reading", "kind": "zigbee",
                                  "fields": {"presence": True}}


@pytest.mark.parametrize("bad", [
    {"purpose": "sos"}, {"purpose": None}, {"friendly_name": "room/#"},
    {"friendly_name": "room/+/x"}, {"friendly_name": "/lead"}, {"friendly_name": "trail/"},
    {"base_topic": "z2m/#"}, {"client_id": "has space"}, {"surprise": 1},
])
def test_config_refuses_what_it_cannot_honour(bad: dict[str, Any]) -> None:
    fields = {"type": "zigbee", "id": "sos", "purpose": "call_button",
              "friendly_name": "bedroom_sos", **bad}
    with pytest.raises(ValidationError):
        ZigbeeConfig(**fields)


def test_purpose_is_required() -> None:
    with pytest.raises(ValidationError, match="purpose"):
        ZigbeeConfig(type="zigbee", id="sos", friendly_name="bedroom_sos")  # type: ignore[call-arg]


def test_client_id_is_stable_per_home_and_device() -> None:
    config = ZigbeeConfig(type="zigbee", id="sos", purpose="call_button", friendly_name="x")
    first, again = ZigbeeDriver(config, home="home-001"), ZigbeeDriver(config, home="home-001")
    other = ZigbeeDriver(config, home="home-002")
    assert first.client_id == again.client_id == "bedwatch-home-001-sos"
    assert other.client_id != first.client_id
    assert ZigbeeDriver(config).client_id == ZigbeeDriver(config).client_id


# -- changes of state, replays ----------------------------------------------------------

def test_cached_sos_on_later_reports_does_not_call_again() -> None:
    driver = make_driver()
    first = driver.handle(TOPIC, b'{"sos":true,"battery":90}', 1.0)
    later = [driver.handle(TOPIC, b'{"sos":true,"battery":%d}' % b, 2.0) for b in (89, 88, 87)]
    assert kinds(first) == ["call"]
    assert [kinds(i) for i in later] == [["device_fault"], [], []]  # one alarm_latched


def test_first_live_sos_after_start_calls_once_and_says_so() -> None:
    items = make_driver().handle(TOPIC, b'{"sos":true,"battery":90}', 1.0)
    calls = [i for i in items if isinstance(i, DeviceEvent) and i.kind == "call"]
    assert len(calls) == 1 and calls[0].data["before"] == "unknown"


def test_retained_replay_is_history_not_a_press() -> None:
    driver = make_driver()
    assert driver.handle(TOPIC, b'{"action":"emergency","battery":90}', 1.0, retained=True) == []
    assert driver.handle(TOPIC, b'{"sos":true}', 1.0, retained=True) == []
    assert kinds(driver.handle(TOPIC, b'{"sos":true,"battery":90}', 2.0)) == ["device_fault"]
    assert kinds(driver.handle(TOPIC, b'{"sos":false}', 3.0)) == []
    assert kinds(driver.handle(TOPIC, b'{"sos":true}', 4.0)) == ["call"]


def test_uncached_alarm_keys_call_on_every_true() -> None:
    driver = make_driver(alarm_keys_cached=False)
    results = [kinds(driver.handle(TOPIC, p, 1.0)) for p in
               (b'{"sos":true}', b'{"sos":true}', b'{"battery":80}', b'{"sos":false}')]
    assert results == [["call"], ["call"], [], []]


def test_alarm_key_missing_from_a_message_is_not_remembered_as_true() -> None:
    # zigbee2mqtt is not caching it after all: the next true is news, not a repeat.
    driver = make_driver()
    results = [kinds(driver.handle(TOPIC, p, 1.0)) for p in
               (b'{"sos":true}', b'{"battery":80}', b'{"sos":true}')]
    assert results == [["call"], [], ["call"]]


def test_availability_acts_on_changes_only() -> None:
    driver = make_driver()
    topic = f"{TOPIC}/availability"
    results = [kinds(driver.handle(topic, p, 1.0)) for p in
               (b"online", b'{"state":"online"}', b"offline", b"offline", b"online")]
    assert results == [[], [], ["device_fault"], [], ["device_recovered"]]


@pytest.mark.parametrize(("payload", "online"), [(b"online", True), (b"offline", False),
                                                 (b'{"state":"online"}', True),
                                                 (b'{"state":"offline"}', False)])
def test_availability_both_forms(payload: bytes, online: bool) -> None:
    assert decode_availability(payload) is online


@pytest.mark.parametrize("payload", [b"maybe", b'{"state":"dozing"}', b"{broken", b"[1]",
                                     b"{" * 5000, b"online" * 100])
def test_unknown_availability_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode_availability(payload)


# -- adversarial input ---------------------------------------------------------------------

JUNK = [
    b"", b"not json", b"\xff\xfe\x00", b"null", b"true", b"42", b'"single"', b"[1,2]",
    b'{"action":"single"', b"[" * 100_000, b"[" * 10_000, b'{"a":' * 50 + b"1" + b"}" * 50,
    b'{"action":"single","pad":"' + b"x" * MAX_PAYLOAD_BYTES + b'"}',
    b'{"action": "single"}'.decode().encode("utf-16"),
]


@pytest.mark.parametrize("payload", JUNK, ids=range(len(JUNK)))
def test_malformed_payload_is_counted_and_the_next_press_calls(payload: bytes) -> None:
    driver = make_driver()
    assert driver.handle(TOPIC, payload, 1.0) == []
    assert driver.errors["decode"] == 1
    assert kinds(driver.handle(TOPIC, b'{"action":"single"}', 2.0)) == ["call"]


@pytest.mark.parametrize("state", [
    {"action": 5}, {"action": ["single"]}, {"action": {"x": 1}}, {"action": "x" * 65},
    {"action": "sin\x00gle"}, {"sos": "true"}, {"sos": 1}, {"battery": True},
    {"battery": 1e400}, {"battery": -1}, {"battery": 101}, {"linkquality": "a"},
    {"tamper": "yes"}, {"presence": 1},
])
def test_odd_values_of_known_keys_are_counted_and_ignored(state: dict[str, Any]) -> None:
    driver = make_driver()
    assert kinds(driver.handle(TOPIC, json.dumps(state).encode(), 1.0)) == []
    assert driver.errors["odd_fields"] == 1
    assert kinds(driver.handle(TOPIC, b'{"action":"single"}', 2.0)) == ["call"]


def test_a_press_with_one_odd_field_still_calls() -> None:
    driver = make_driver()
    assert kinds(driver.handle(TOPIC, b'{"action":"single","battery":"full"}', 1.0)) == ["call"]
    assert driver.errors["odd_fields"] == 1


def test_other_topics_are_refused() -> None:
    driver = make_driver()
    assert driver.handle("zigbee2mqtt/other", b'{"action":"single"}', 1.0) == []
    assert driver.errors["decode"] == 1


@given(st.binary(max_size=300))
def test_random_payloads_raise_only_value_error(payload: bytes) -> None:
    try:
        decode_state("sos", payload, 0.0)
    except ValueError:
        pass


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(
    st.sampled_from(["action", "sos", "battery", "tamper", "presence", "battery_low",
                     "linkquality", "voltage", "occupancy", "presence_event"]),
    st.one_of(st.booleans(), st.integers(-5, 300), st.floats(), st.text(max_size=10),
              st.none(), st.lists(st.integers(), max_size=2))), max_size=5))
def test_any_json_objects_never_stop_the_driver(states: list[dict[str, object]]) -> None:
    driver = make_driver()
    for state in states:
        for item in driver.handle(TOPIC, json.dumps(state).encode(), 0.0):
            assert item.device == "sos"
    assert kinds(driver.handle(TOPIC, b'{"action":"single"}', 1.0)) == ["call"]


# -- through a real broker -------------------------------------------------------------------

async def collect(driver: ZigbeeDriver, out: list[DriverItem]) -> None:
    async with driver:
        async for item in driver:
            out.append(item)


async def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_press_and_availability_through_a_real_broker(
        home_mosquitto: HomeMosquitto) -> None:
    config = ZigbeeConfig(type="zigbee", id="sos", purpose="call_button",
                          friendly_name="bedroom_sos", port=home_mosquitto.port)
    driver = ZigbeeDriver(config, home="home-001")
    out: list[DriverItem] = []
    sim = ZigbeeButtonSim("127.0.0.1", home_mosquitto.port, "bedroom_sos")
    sim.availability(True)  # retained, as zigbee2mqtt does: tells when the driver listens
    task = asyncio.create_task(collect(driver, out))
    try:
        await wait_for(lambda: any(isinstance(i, DeviceHealth) for i in out))
        sim.raw(b"not json")
        sim.press(action="single", battery=80)
        sim.report(battery=79)  # cached state, no action: not a press
        sim.availability(False)
        sim.availability(True, as_json=False)
        await wait_for(lambda: sum(isinstance(i, DeviceHealth) for i in out) >= 3)
    finally:
        sim.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert kinds(out) == ["call", "device_fault", "device_recovered"]
    assert driver.errors["decode"] == 1


class QueueingMosquitto(HomeMosquitto):
    """Mosquitto configured as the home's broker should be: QoS 0 queued for a persistent
    session while it is away (mosquitto.conf(5), queue_qos0_messages)."""

    def _command(self) -> list[str]:
        command = super()._command()
        with self.config_path.open("a") as conf:
            conf.write("queue_qos0_messages true\n")
        return command


class Cable:
    """A TCP relay between the driver and the broker that a test can unplug."""

    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def plug(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def unplug(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.broker_port)
        self._writers += [writer, up_writer]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=[0, 1],
                ids=["qos0-queued-by-mosquitto", "qos1-from-zigbee2mqtt"])
def home_broker(request: pytest.FixtureRequest,
                tmp_path: Path) -> Iterator[tuple[HomeMosquitto, int]]:
    """The two recommended setups: Mosquitto queueing QoS 0, or zigbee2mqtt publishing QoS 1."""
    qos: int = request.param
    broker = (QueueingMosquitto if qos == 0 else HomeMosquitto)(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker, qos
    finally:
        broker.stop()


async def test_press_while_away_is_delivered_and_the_gap_reported(
        home_broker: tuple[HomeMosquitto, int]) -> None:
    broker, qos = home_broker
    cable = Cable(broker.port)
    await cable.plug()
    clock = FakeMonotonic()
    config = ZigbeeConfig(type="zigbee", id="sos", purpose="call_button",
                          friendly_name="bedroom_sos", port=cable.port, gap_fault_s=5.0)
    driver = ZigbeeDriver(config, monotonic=clock, home="home-001")
    out: list[DriverItem] = []
    sim = ZigbeeButtonSim("127.0.0.1", broker.port, "bedroom_sos", qos=qos)
    sim.availability(True)
    task = asyncio.create_task(collect(driver, out))
    try:
        await wait_for(lambda: any(isinstance(i, DeviceHealth) for i in out))
        # A short gap: counted, no fault.
        await cable.unplug()
        await wait_for(lambda: driver.errors["disconnects"] == 1)
        clock.now += 1.0
        await cable.plug()
        await wait_for(lambda: sum(isinstance(i, DeviceHealth) for i in out) >= 3)
        assert kinds(out) == [] and driver.errors["long_gaps"] == 0
        assert driver.errors["broker_gap_s"] == 1
        # A long gap with a press in it (the broker holds it for the persistent session).
        await cable.unplug()
        await wait_for(lambda: driver.errors["disconnects"] == 2)
        await wait_for(lambda: _session_offline(broker, driver.client_id, 2))
        sim.press(action="single", battery=90)
        clock.now += 30.0
        await wait_for(lambda: kinds(out) == ["device_fault"])
        await cable.plug()
        await wait_for(lambda: "call" in kinds(out))
    finally:
        sim.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await cable.unplug()
    events = [i for i in out if isinstance(i, DeviceEvent)]
    assert [e.kind for e in events] == ["device_fault", "device_recovered", "call"]
    assert events[0].data["gap_s"] >= 30.0 and events[1].data["gap_s"] >= 30.0
    assert events[2].data["action"] == "single"
    assert driver.errors["disconnects"] == 2 and driver.errors["long_gaps"] == 1
    assert driver.errors["broker_gap_s"] >= 31
    healths = [i for i in out if isinstance(i, DeviceHealth)]
    assert healths[-1].connected and healths[-1].errors["long_gaps"] == 1


def _session_offline(broker: HomeMosquitto, client_id: str, times: int) -> bool:
    """Return whether the broker's log shows the client gone `times` times."""
    text = broker.log_path.read_text(errors="replace")
    return text.count(f"Client {client_id} closed its connection") + text.count(
        f"Client {client_id} disconnected") >= times
