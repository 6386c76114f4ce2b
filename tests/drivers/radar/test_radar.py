"""The Seeed radars: the reference frames, damaged input, the firmware check on a real pty."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.base import DeviceEvent, DriverItem, Reading
from edge.drivers.radar import RadarConfig, RadarDecoder, RadarDriver, encode_frame
from firmware_sim.radar import RadarSim
from tests.drivers.golden import cases, describe

CASES = cases(__file__)


def _driver(**extra: object) -> RadarDriver:
    return RadarDriver(RadarConfig.model_validate(
        {"type": "radar", "id": "radar", "model": "mr60bha1", "port": "unused", **extra}))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path) -> None:
    data = bytes.fromhex((case / "input.hex").read_text())
    expected = json.loads((case / "expected.json").read_text())
    driver = _driver()
    items = driver.handle_bytes(data, 1_764_000_000.0)
    assert [describe(i) for i in items] == expected["items"]
    assert {k: driver.decoder.counters[k] for k in expected["counters"]} == expected["counters"]


def test_reference_frames_are_what_the_encoder_writes() -> None:
    assert encode_frame(0x80, 0x01, b"\x01") == bytes.fromhex("53 59 80 01 00 01 01 2F 54 43")
    assert encode_frame(0x02, 0xA4, b"\x0f") == bytes.fromhex("53 59 02 A4 00 01 0F 62 54 43")


def test_out_of_range_values_are_counted_not_believed() -> None:
    driver = _driver()
    driver.handle_bytes(encode_frame(0x02, 0xA4, b"G60SM1SYv020315"), 0)
    items = driver.handle_bytes(encode_frame(0x80, 0x03, b"\xc8") +
                                encode_frame(0x84, 0x01, b"\x07"), 0)
    assert items == [] and driver.errors["decode"] == 2


@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    driver = _driver()
    driver.handle_bytes(encode_frame(0x02, 0xA4, b"G60SM1SYv020315"), 0)
    for item in driver.handle_bytes(data, 0):
        assert item.device == "radar"


@given(st.binary(max_size=200), st.binary(min_size=1, max_size=40), st.integers(1, 30))
def test_frame_in_noise_is_found(noise: bytes, payload: bytes, chunk: int) -> None:
    decoder = RadarDecoder()
    stream = noise + encode_frame(0x85, 0x02, payload) + noise
    frames = [f for i in range(0, len(stream), chunk) for f in decoder.feed(stream[i:i + chunk])]
    assert any(f.command == 0x02 and f.data == payload for f in frames)


# Noise with stray heads, some followed by a plausible length.
head_noise = st.lists(st.one_of(
    st.binary(max_size=12),
    st.integers(0, 256).map(lambda n: b"\x53\x59\x80\x01" + n.to_bytes(2, "big")),
), max_size=12).map(b"".join)


@given(head_noise, st.integers(1, 30))
def test_a_fall_report_is_not_held_back_by_a_false_head(noise: bytes, chunk: int) -> None:
    decoder = RadarDecoder()
    stream = noise + encode_frame(0x83, 0x01, b"\x01")  # fall report
    frames = [f for i in range(0, len(stream), chunk) for f in decoder.feed(stream[i:i + chunk])]
    assert frames and (frames[-1].control, frames[-1].command, frames[-1].data) == \
        (0x83, 0x01, b"\x01")


async def _collect(driver: RadarDriver, out: list[DriverItem], stop: asyncio.Event) -> None:
    async with driver:
        async for item in driver:
            out.append(item)
            if stop.is_set():
                return


@pytest.mark.parametrize(("firmware", "accepted"), [("G60SM1SYv020315", True),
                                                     ("G60SM1SYv010003", False)])
async def test_firmware_check_over_a_real_pty(tmp_path: Path, firmware: str,
                                              accepted: bool) -> None:
    with RadarSim(tmp_path, firmware=firmware, interval_s=0.05) as sim:
        out: list[DriverItem] = []
        driver = _driver(port=str(sim.path))
        task = asyncio.create_task(_collect(driver, out, asyncio.Event()))
        await asyncio.sleep(1.0)
        sim.fall()
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    readings = [i for i in out if isinstance(i, Reading)]
    faults = [i for i in out if isinstance(i, DeviceEvent) and i.kind == "device_fault"]
    if accepted:
        assert driver.firmware == firmware and not faults
        assert any(r.fields.get("heart_rate_bpm") == 62 for r in readings)
        assert any(isinstance(i, DeviceEvent) and i.kind == "radar_fall" for i in out)
    else:
        assert len(faults) == 1 and "command map" in faults[0].data["reason"]
        assert readings == []
