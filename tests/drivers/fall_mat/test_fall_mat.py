"""The pressure-grid floor mat: golden frames and what the simulator's scenes look like."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.fall_mat import ACTIVE_KPA, FallMatConfig, FallMatDriver
from edge.items import DriverItem, Observation, SampleBlock
from firmware_sim.fall_mat import mat_stream
from firmware_sim.physiology import Segment
from tests.drivers.golden import cases

CASES = cases(__file__)


def _driver() -> FallMatDriver:
    return FallMatDriver(FallMatConfig(type="fall_mat", id="mat", port="unused"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path) -> None:
    data = bytes.fromhex((case / "input.hex").read_text())
    expected = json.loads((case / "expected.json").read_text())
    items = _driver().handle_bytes(data, 1_764_000_000.0)
    info = next(i for i in items if isinstance(i, Observation) and i.kind == "device_info")
    assert info.fields == expected["info"]
    grids = [i.samples[0] for i in items if isinstance(i, SampleBlock)]
    np.testing.assert_allclose(grids, expected["grids_kpa"])
    assert [int((g > ACTIVE_KPA).sum()) for g in grids] == expected["active_cells"]


@pytest.mark.parametrize(("scene", "low", "high"), [
    ("empty", 0, 0), ("dropped_object", 1, 3), ("standing", 6, 20), ("pet", 4, 16),
    ("lying_on_mat", 35, 70)])
def test_scenes_have_the_contact_area_of_what_they_show(scene: str, low: int, high: int) -> None:
    stream = mat_stream([Segment(scene, 3)], seed=1)
    driver = _driver()
    items: list[DriverItem] = []
    for t, frame in stream.frames():
        items += driver.handle_bytes(frame, 1_764_000_000.0 + t)
    areas = [i.fields["active_cells"] for i in items
             if isinstance(i, Observation) and i.kind == "mat"]
    assert areas and all(low <= a <= high for a in areas), areas


@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    for item in _driver().handle_bytes(data, 0):
        assert item.device == "mat"
