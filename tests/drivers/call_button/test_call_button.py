"""The call-button receiver: golden byte cases, damaged input, and a real pty with unplugging."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.call_button import CallButtonConfig, CallButtonDriver, decode_frame
from edge.drivers.framing import Frame
from edge.items import DeviceEvent, DriverItem, Observation
from firmware_sim.call_button import CallButtonSim
from tests.drivers.golden import cases, describe

CASES = cases(__file__)
T = 1_764_000_000.0


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path) -> None:
    data = bytes.fromhex((case / "input.hex").read_text())
    expected = json.loads((case / "expected.json").read_text())
    driver = CallButtonDriver(CallButtonConfig(type="call_button", id="btn", port="unused"))
    items = driver.handle_bytes(data, T)
    assert [describe(i) for i in items] == expected["items"]
    counters = driver.decoder.counters.as_dict()
    assert {k: counters[k] for k in expected["counters"]} == expected["counters"]


def test_golden_case_split_byte_by_byte() -> None:
    data = bytes.fromhex((Path(__file__).parent / "cases/call_press/input.hex").read_text())
    driver = CallButtonDriver(CallButtonConfig(type="call_button", id="btn", port="unused"))
    items = [item for b in data for item in driver.handle_bytes(bytes([b]), T)]
    assert [i.kind for i in items if isinstance(i, DeviceEvent)] == ["call"]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (Frame(0x10, 0, b"\x01\x02"), "button frame of 2 bytes"),
        (Frame(0x10, 0, bytes.fromhex("07000000 09 50 c4")), "unknown button action 9"),
        (Frame(0x10, 0, bytes.fromhex("07000000 01 c8 c4")), "battery 200 %"),
        (Frame(0x01, 0, bytes.fromhex("20 01 00 00")), "not a call-button receiver"),
        (Frame(0x7e, 0, b""), "unknown frame type 0x7e"),
    ],
)
def test_inconsistent_frames_are_refused_with_reason(frame: Frame, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_frame(frame, "btn", T)


def test_undecodable_frame_is_counted_and_skipped() -> None:
    from edge.drivers.framing import encode_frame

    driver = CallButtonDriver(CallButtonConfig(type="call_button", id="btn", port="unused"))
    items = driver.handle_bytes(encode_frame(0x7E, 0, b"") + encode_frame(0x02, 1, bytes(6)), T)
    assert driver.errors["decode"] == 1
    assert [i.kind for i in items if isinstance(i, Observation)] == ["receiver"]


@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    driver = CallButtonDriver(CallButtonConfig(type="call_button", id="btn", port="unused"))
    for item in driver.handle_bytes(data, T):
        assert item.device == "btn"


def test_button_that_stops_checking_in_is_reported_silent() -> None:
    from edge.drivers.framing import encode_frame

    config = CallButtonConfig(type="call_button", id="btn", port="unused", buttons=[7],
                              checkin_timeout_s=3600)
    now = [T]
    driver = CallButtonDriver(config, clock=lambda: now[0])
    heartbeat = encode_frame(0x02, 0, bytes(6))
    assert not [i for i in driver.handle_bytes(heartbeat, T + 3599) if isinstance(i, DeviceEvent)]
    silent = [i for i in driver.handle_bytes(heartbeat, T + 3601) if isinstance(i, DeviceEvent)]
    assert [(e.kind, e.data["button"]) for e in silent] == [("device_silent", 7)]
    assert not [i for i in driver.handle_bytes(heartbeat, T + 3700) if isinstance(i, DeviceEvent)]
    checkin = encode_frame(0x10, 1, bytes.fromhex("07000000 03 50 c4"))
    back = [i.kind for i in driver.handle_bytes(checkin, T + 3800) if isinstance(i, DeviceEvent)]
    assert back == ["device_recovered"]


async def _collect(driver: CallButtonDriver, out: list[DriverItem]) -> None:
    async with driver:
        async for item in driver:
            out.append(item)


async def _wait_for(out: list[DriverItem], kind: str, count: int = 1, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while sum(isinstance(i, DeviceEvent) and i.kind == kind for i in out) < count:
            await asyncio.sleep(0.02)


async def test_real_pty_press_unplug_and_replug(tmp_path: Path) -> None:
    with CallButtonSim(tmp_path, heartbeat_s=0.2) as sim:
        config = CallButtonConfig(type="call_button", id="btn", port=str(sim.path),
                                  reconnect_max_s=0.5)
        out: list[DriverItem] = []
        task = asyncio.create_task(_collect(CallButtonDriver(config), out))
        try:
            await asyncio.sleep(0.3)
            sim.press()
            await _wait_for(out, "call")
            sim.unplug()
            await _wait_for(out, "device_fault")
            await asyncio.sleep(0.3)
            sim.replug()
            await _wait_for(out, "device_recovered")
            sim.press()
            await _wait_for(out, "call", count=2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    kinds = [i.kind for i in out if isinstance(i, DeviceEvent)]
    assert kinds.index("call") < kinds.index("device_fault") < kinds.index("device_recovered")
    assert kinds.count("device_fault") == 1  # one fault per outage, not one per retry
