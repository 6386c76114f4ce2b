"""The Seeed radars: documented firmware answers, the version handshake, value ranges, damaged
input, and the simulator on a real pty."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.radar import (
    DOCUMENTED_FIRMWARE,
    VERSION_QUERY,
    RadarConfig,
    RadarDecoder,
    RadarDriver,
    VersionHandshake,
    encode_frame,
)
from edge.items import DeviceEvent, DriverItem, Observation
from firmware_sim.radar import FIRMWARE, RadarSim
from tests.drivers.golden import cases, describe

CASES = cases(__file__)
T0 = 1_764_000_000.0
QUERY_FRAME = bytes.fromhex("53 59 02 A4 00 01 0F 62 54 43")
EXAMPLE = Path(__file__).parents[3] / "examples" / "edge" / "devices" / "radar.toml"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeWriter:
    """Collect what the driver writes to the radar."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    async def drain(self) -> None:
        return None


def _driver(clock: Callable[[], float] | None = None, **extra: object) -> RadarDriver:
    config = RadarConfig.model_validate(
        {"type": "radar", "id": "radar", "model": "mr60bha1", "port": "unused", **extra})
    return RadarDriver(config, monotonic=clock or FakeClock())


async def _opened(clock: FakeClock, writer: FakeWriter, **extra: object) -> RadarDriver:
    """Return a driver as the serial loop leaves it right after the port opened."""
    driver = _driver(clock, **extra)
    driver._writer = writer  # type: ignore[assignment]  # the serial loop sets it on open
    driver.on_reconnect()
    assert await driver.on_open(writer) == []  # type: ignore[arg-type]
    return driver


def _steps(text: str) -> list[tuple[float, bytes]]:
    """Parse input.hex: one chunk a line, `@<seconds>` before the bytes when it arrives later."""
    steps = []
    for line in text.splitlines():
        at = 0.0
        if line.startswith("@"):
            stamp, _, line = line.partition(" ")
            at = float(stamp[1:])
        steps.append((at, bytes.fromhex(line)))
    return steps


async def _play(case: Path) -> tuple[RadarDriver, list[DriverItem], FakeWriter]:
    config = case / "config.json"
    extra: dict[str, Any] = json.loads(config.read_text()) if config.exists() else {}
    clock, writer = FakeClock(), FakeWriter()
    driver = await _opened(clock, writer, **extra)
    items: list[DriverItem] = []
    for at, data in _steps((case / "input.hex").read_text()):
        clock.now = at
        items += driver.handle_bytes(data, T0 + at)
    return driver, items, writer


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_golden_case(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    driver, items, writer = await _play(case)
    assert [describe(i) for i in items] == expected["items"]
    counts = driver.error_counts()
    assert {k: counts[k] for k in expected["counters"]} == expected["counters"]
    # Every query the driver counts went out on the line, byte-exact.
    assert bytes(writer.written) == QUERY_FRAME * counts["version_queries"]


def test_reference_frames_are_what_the_encoder_writes() -> None:
    assert encode_frame(0x80, 0x01, b"\x01") == bytes.fromhex("53 59 80 01 00 01 01 2F 54 43")
    assert encode_frame(*VERSION_QUERY, b"\x0f") == QUERY_FRAME
    # The heartbeat and reset frames as captured and documented, to check the checksum rule.
    assert encode_frame(0x01, 0x01, b"\x0f") == bytes.fromhex("53 59 01 01 00 01 0F BE 54 43")
    assert encode_frame(0x01, 0x02, b"\x0f") == bytes.fromhex("53 59 01 02 00 01 0F BF 54 43")


@pytest.mark.parametrize("firmware", DOCUMENTED_FIRMWARE)
def test_every_documented_firmware_is_decoded_without_a_fault(firmware: str) -> None:
    model = "mr60fda1" if firmware.startswith("G60FD1") else "mr60bha1"
    driver = _driver(model=model)
    items = driver.handle_bytes(encode_frame(*VERSION_QUERY, firmware.encode())
                                + encode_frame(0x83, 0x01, b"\x01"), T0)
    assert [i.kind for i in items] == ["device_info", "radar", "radar_fall"]
    assert driver.firmware == firmware and driver.errors["unknown_firmware"] == 0


def test_unknown_firmware_is_a_low_severity_note_once() -> None:
    driver = _driver(model="mr60fda1")
    answer = encode_frame(*VERSION_QUERY, b"G60FD1SYv020315")
    notes = [i for i in driver.handle_bytes(answer + answer, T0)
             if isinstance(i, DeviceEvent) and i.kind == "firmware_unknown"]
    assert len(notes) == 1 and notes[0].severity == "low"
    assert driver.errors["unknown_firmware"] == 1


def test_handshake_backs_off_and_asks_at_once_when_the_radar_has_started() -> None:
    hs = VersionHandshake(first_s=2.0, max_s=10.0)
    sent = []
    for now in range(0, 40):
        if hs.due(now):
            hs.sent(now)
            sent.append(now)
    assert sent == [0, 2, 6, 14, 24, 34]  # waits 2, 4, 8, then capped at 10
    hs.radar_started(35.0)
    assert hs.due(35.0) and hs.attempts == 0
    hs.answered = True
    assert not hs.due(1e9)


async def test_a_silent_radar_is_not_asked_between_reads_and_reconnect_restarts() -> None:
    clock, writer = FakeClock(), FakeWriter()
    driver = await _opened(clock, writer)
    driver.handle_bytes(encode_frame(*VERSION_QUERY, b"G60SM1SYv010009"), T0)
    clock.now = 500.0
    driver.handle_bytes(encode_frame(0x80, 0x01, b"\x01"), T0 + 500)
    assert driver.errors["version_queries"] == 1  # answered: never asked again
    driver.on_reconnect()
    await driver.on_open(writer)  # type: ignore[arg-type]
    assert driver.errors["version_queries"] == 2 and bytes(writer.written) == QUERY_FRAME * 2


def test_rejections_are_counted_and_the_next_report_still_works() -> None:
    driver = _driver()
    items = driver.handle_bytes(encode_frame(0x80, 0x03, b"\xc8")
                                + encode_frame(0x84, 0x01, b"\x07")
                                + encode_frame(0x85, 0x02, b""), T0)
    assert items == [] and driver.errors["decode"] == 3
    assert driver.errors["out_of_range"] == 2 and driver.errors["bad_length"] == 1
    items = driver.handle_bytes(encode_frame(0x85, 0x02, b"\x48"), T0)
    assert [i.fields for i in items if isinstance(i, Observation)] == [{"heart_rate_bpm": 72}]


def test_rate_ranges_are_configurable_and_checked() -> None:
    driver = _driver(heart_rate_bpm=[30, 180])
    items = driver.handle_bytes(encode_frame(0x85, 0x02, bytes([150])), T0)
    assert [i.fields for i in items if isinstance(i, Observation)] == [{"heart_rate_bpm": 150}]
    with pytest.raises(ValueError, match="heart_rate_bpm"):
        _driver(heart_rate_bpm=[0, 120])
    with pytest.raises(ValueError, match="breathing_rate_bpm"):
        _driver(breathing_rate_bpm=[40, 20])


def test_the_sample_config_is_valid() -> None:
    devices = tomllib.loads(EXAMPLE.read_text())["devices"]
    configs = [RadarConfig.model_validate(d) for d in devices]
    assert {c.model for c in configs} == {"mr60bha1", "mr60fda1"}


@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    driver = _driver()
    driver.handle_bytes(encode_frame(*VERSION_QUERY, b"G60SM1SYv010009"), 0)
    for item in driver.handle_bytes(data, 0):
        assert item.device == "radar"


@given(st.binary(max_size=300), st.integers(0, 255), st.integers(0, 0xFF))
def test_any_report_then_a_fall_the_fall_comes_through(payload: bytes, control: int,
                                                       command: int) -> None:
    driver = _driver(model="mr60fda1")
    items = driver.handle_bytes(encode_frame(control, command, payload[:256])
                                + encode_frame(0x83, 0x01, b"\x01"), T0)
    assert [i.kind for i in items if isinstance(i, DeviceEvent)][-1] == "radar_fall"


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


# -- the simulator on a real pty -------------------------------------------------------------


async def _until(out: list[DriverItem], done: Callable[[list[DriverItem]], bool],
                 timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not done(out):
            await asyncio.sleep(0.02)


async def _run(driver: RadarDriver, out: list[DriverItem]) -> None:
    async with driver:
        async for item in driver:
            out.append(item)


def _kinds(out: list[DriverItem]) -> list[str]:
    return [i.kind for i in out if isinstance(i, DeviceEvent)]


def _has_fall(out: list[DriverItem]) -> bool:
    return "radar_fall" in _kinds(out)


def _has_info(out: list[DriverItem]) -> bool:
    return any(isinstance(i, Observation) and i.kind == "device_info" for i in out)


def _has_heart_rate(out: list[DriverItem]) -> bool:
    return any(isinstance(i, Observation) and "heart_rate_bpm" in i.fields for i in out)


@pytest.mark.parametrize("model", ["mr60bha1", "mr60fda1"])
async def test_simulator_answers_a_documented_version(tmp_path: Path, model: str) -> None:
    with RadarSim(tmp_path, model=model, interval_s=0.05) as sim:
        out: list[DriverItem] = []
        driver = RadarDriver(RadarConfig(type="radar", id="radar", model=model,
                                         port=str(sim.path)))
        task = asyncio.create_task(_run(driver, out))
        try:
            await _until(out, _has_info)
            sim.fall()
            await _until(out, _has_fall)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert driver.firmware == FIRMWARE[model] in DOCUMENTED_FIRMWARE
    assert "device_fault" not in _kinds(out) and "firmware_unknown" not in _kinds(out)


async def test_simulated_radar_slow_to_start_is_asked_again_when_ready(tmp_path: Path) -> None:
    with RadarSim(tmp_path, interval_s=0.05, start_delay_s=0.3) as sim:
        out: list[DriverItem] = []
        driver = RadarDriver(RadarConfig(type="radar", id="radar", model="mr60bha1",
                                         port=str(sim.path), version_retry_s=30.0))
        task = asyncio.create_task(_run(driver, out))
        try:
            await _until(out, lambda o: _has_info(o) and _has_heart_rate(o))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    # The first query fell into the start-up; the second went out on the start-up report,
    # long before the 30 s backoff.
    assert driver.errors["radar_started"] == 1 and sim.queries_heard == 2
    assert driver.errors["version_queries"] == 2 and "device_fault" not in _kinds(out)


async def test_simulated_radar_that_never_answers_faults_once_and_still_decodes(
        tmp_path: Path) -> None:
    with RadarSim(tmp_path, model="mr60fda1", interval_s=0.02, answers_version=False) as sim:
        out: list[DriverItem] = []
        driver = RadarDriver(RadarConfig(type="radar", id="radar", model="mr60fda1",
                                         port=str(sim.path), version_retry_s=0.02,
                                         version_retry_max_s=0.05, version_attempts=3))
        task = asyncio.create_task(_run(driver, out))
        try:
            await _until(out, lambda o: "device_fault" in _kinds(o))
            sim.fall()
            await _until(out, _has_fall)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    faults = [i for i in out if isinstance(i, DeviceEvent) and i.kind == "device_fault"]
    assert len(faults) == 1 and "version" in faults[0].data["reason"]
    assert driver.firmware is None and sim.queries_heard >= 3


async def test_simulated_settling_radar_never_reports_zero_bpm(tmp_path: Path) -> None:
    with RadarSim(tmp_path, interval_s=0.03, settling_reports=3) as sim:
        out: list[DriverItem] = []
        driver = RadarDriver(RadarConfig(type="radar", id="radar", model="mr60bha1",
                                         port=str(sim.path)))
        task = asyncio.create_task(_run(driver, out))
        try:
            await _until(out, _has_heart_rate)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert sim.settling_reports == 0
    rates = [i.fields for i in out if isinstance(i, Observation)
             and ("heart_rate_bpm" in i.fields or "breathing_rate_bpm" in i.fields)]
    assert all(v != 0 for r in rates for v in r.values())
    # Each settling report read carried two zero rates: counted, not passed on.
    assert driver.errors["no_value"] > 0 and driver.errors["no_value"] % 2 == 0
