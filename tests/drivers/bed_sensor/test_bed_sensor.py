"""The bed board and its simulator: golden frames, faithful samples, faults on a real pty."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.bed_sensor import BedSensorConfig, BedSensorDriver
from edge.drivers.sampled_board import decode_hello
from edge.items import DeviceEvent, DriverItem, Observation, SampleBlock
from firmware_sim.bed_sensor import bed_info, bed_sim, bed_stream
from firmware_sim.physiology import Resident, Segment
from tests.drivers.golden import cases

CASES = cases(__file__)


def _driver(**extra: object) -> BedSensorDriver:
    return BedSensorDriver(BedSensorConfig.model_validate(
        {"type": "bed_sensor", "id": "bed", "port": "unused", **extra}))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path) -> None:
    data = bytes.fromhex((case / "input.hex").read_text())
    expected = json.loads((case / "expected.json").read_text())
    driver = _driver()
    items = driver.handle_bytes(data, 1_764_000_000.0)
    info = next(i for i in items if isinstance(i, Observation) and i.kind == "device_info")
    assert info.fields == expected["info"]
    blocks = [i for i in items if isinstance(i, SampleBlock)]
    assert [b.first_index for b in blocks] == [b["first"] for b in expected["blocks"]]
    for block, want in zip(blocks, expected["blocks"], strict=True):
        np.testing.assert_allclose(block.samples, want["samples"], atol=1e-4)
    errors = driver.error_counts()
    assert {k: errors[k] for k in expected["errors"]} == expected["errors"]


def test_a_night_comes_out_as_it_went_in() -> None:
    script = [Segment("empty", 5), Segment("lying_down", 3), Segment("lying", 30),
              Segment("getting_up", 3), Segment("empty", 5)]
    stream = bed_stream(script, Resident(weight_kg=71), seed=3)
    driver = _driver()
    items: list[DriverItem] = []
    for t, frame in stream.frames():  # each frame at the moment the board sends it
        items += driver.handle_bytes(frame, 1_764_000_000.0 + t)
    blocks = [i for i in items if isinstance(i, SampleBlock)]
    got = np.concatenate([b.samples for b in blocks])
    expected = stream.counts * stream.info.scale + stream.info.offset
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # Sample times follow the board's count: contiguous, one sample period apart.
    starts = np.array([b.t0 for b in blocks])
    assert np.allclose(np.diff(starts), 8 / 80)
    loads = [i.fields["load_kg"] for i in items if isinstance(i, Observation) and i.kind == "bed"]
    assert min(loads) == pytest.approx(38.0, abs=0.5)  # the empty bed
    assert max(loads) == pytest.approx(38.0 + 71, abs=1.5)  # with the resident in it
    assert driver.error_counts()["sample_gaps"] == 0


def test_inconsistent_hello_is_refused() -> None:
    payload = bytearray(bytes.fromhex("20 02 01 00 05 00 40 1f 01 01") + bytes(8))  # scale 0
    with pytest.raises(ValueError, match="non-zero"):
        decode_hello(bytes(payload))
    with pytest.raises(ValueError, match="calibrations for 5 channels"):
        decode_hello(bytes.fromhex("20 02 01 00 05 00 40 1f 01 03") + bytes(24))


def test_config_calibration_must_fit_the_board() -> None:
    driver = _driver(calibration={"scale": [1.0, 1.0], "offset": [0.0, 0.0]})
    stream = bed_stream([Segment("empty", 1)])
    driver.handle_bytes(stream.all_bytes(), 0)
    assert driver.errors["decode"] >= 1 and driver.info is None


@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data: bytes) -> None:
    driver = _driver()
    driver.handle_bytes(bed_stream([Segment("empty", 0.2)]).all_bytes()[:100], 0)
    for item in driver.handle_bytes(data, 0):
        assert item.device == "bed"


async def test_unplug_and_replug_on_a_real_pty(tmp_path: Path) -> None:
    with bed_sim(tmp_path, [Segment("lying", 60)], speed=1.0) as sim:
        driver = _driver(port=str(sim.path), reconnect_max_s=0.5)
        out: list[DriverItem] = []

        async def collect() -> None:
            async with driver:
                async for item in driver:
                    out.append(item)

        task = asyncio.create_task(collect())
        try:
            await asyncio.sleep(1.2)
            sim.unplug()
            await asyncio.sleep(0.6)
            sim.replug()
            await asyncio.sleep(1.5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    kinds = [i.kind for i in out if isinstance(i, DeviceEvent)]
    assert kinds == ["device_fault", "device_recovered"]
    blocks = [i for i in out if isinstance(i, SampleBlock)]
    assert len(blocks) > 15 and all(b.samples.shape[1] == 5 for b in blocks)
    assert bed_info().channels == 5
