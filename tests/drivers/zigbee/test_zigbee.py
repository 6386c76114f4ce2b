"""Zigbee buttons through zigbee2mqtt: the reference messages, junk, and a real broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedwatch.stack import Mosquitto
from edge.drivers.base import DeviceEvent, DeviceHealth, DriverItem
from edge.drivers.zigbee import ZigbeeConfig, ZigbeeDriver, decode_availability, decode_state
from firmware_sim.zigbee import ZigbeeButtonSim
from tests.drivers.golden import cases, describe

CASES = cases(__file__)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path) -> None:
    payload = (case / "input.json").read_text().strip().encode()
    expected = json.loads((case / "expected.json").read_text())
    assert [describe(i) for i in decode_state("sos", payload, 0.0)] == expected["items"]


@pytest.mark.parametrize(("payload", "online"), [(b"online", True), (b"offline", False),
                                                 (b'{"state":"online"}', True),
                                                 (b'{"state":"offline"}', False)])
def test_availability_both_forms(payload: bytes, online: bool) -> None:
    assert decode_availability(payload) is online


@pytest.mark.parametrize("payload", [b"maybe", b'{"state":"dozing"}', b"{broken"])
def test_unknown_availability_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode_availability(payload)


@given(st.binary(max_size=300))
def test_random_payloads_raise_only_value_error(payload: bytes) -> None:
    try:
        decode_state("sos", payload, 0.0)
    except ValueError:
        pass


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["action", "sos", "battery", "tamper", "presence",
                                        "battery_low", "linkquality"]),
                       st.one_of(st.booleans(), st.integers(-5, 300), st.text(max_size=10),
                                 st.none())))
def test_any_json_object_decodes(state: dict[str, object]) -> None:
    for item in decode_state("sos", json.dumps(state).encode(), 0.0):
        assert item.device == "sos"


async def test_press_and_availability_through_a_real_broker(mosquitto: Mosquitto) -> None:
    config = ZigbeeConfig(type="zigbee", id="sos", friendly_name="bedroom_sos",
                          port=mosquitto.port)
    driver = ZigbeeDriver(config)
    out: list[DriverItem] = []

    async def collect() -> None:
        async with driver:
            async for item in driver:
                out.append(item)

    task = asyncio.create_task(collect())
    sim = ZigbeeButtonSim("127.0.0.1", mosquitto.port, "bedroom_sos")
    try:
        await asyncio.sleep(0.5)
        sim.raw(b"not json")
        sim.press(battery=80)
        sim.availability(False)
        sim.availability(True, as_json=False)
        async with asyncio.timeout(5):
            while sum(isinstance(i, DeviceHealth) for i in out) < 2:
                await asyncio.sleep(0.02)
    finally:
        sim.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    events = [i.kind for i in out if isinstance(i, DeviceEvent)]
    assert events == ["call", "device_fault", "device_recovered"]
    assert driver.errors["decode"] == 1
