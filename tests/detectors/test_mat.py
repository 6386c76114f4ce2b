"""Falls on the floor mat, told apart from steps, standing, objects and pets; radar fusion."""

from __future__ import annotations

import pytest

from edge.detectors.mat import MatConfig, MatFallDetector, largest_region
from edge.items import DeviceEvent
from firmware_sim.physiology import Segment, render_mat
from tests.detectors.helpers import T0, events, rng, run


def _mat(script: list[Segment], seed: int = 3, **config: object) -> list:  # type: ignore[type-arg]
    rec = render_mat(script, 10.0, rng(seed), t0=T0)
    return run([MatFallDetector(MatConfig(**config))], {"floor-mat": rec}, block_s=0.5)


@pytest.mark.parametrize("scene", ["footsteps", "standing", "dropped_object", "pet", "empty"])
def test_hard_negatives_raise_nothing(scene: str) -> None:
    assert events(_mat([Segment(scene, 120)])) == []


def test_fall_then_long_lie() -> None:
    out = _mat([Segment("footsteps", 3), Segment("fall", 1.5), Segment("lying_on_mat", 320),
                Segment("empty", 10)])
    fall, long_lie = events(out, "fall"), events(out, "long_lie")
    assert len(fall) == 1 and len(long_lie) == 1
    assert T0 + 3 <= fall[0].t <= T0 + 3 + 6  # confirmed within seconds
    assert fall[0].data["cells"] >= 20


def test_radar_fusion_reports_a_fall_beside_the_mat_once() -> None:
    detector = MatFallDetector(MatConfig(radar="bathroom-radar"))
    out = detector.feed(DeviceEvent("bathroom-radar", "radar_fall", T0, {}))
    out += detector.feed(DeviceEvent("bathroom-radar", "radar_fall", T0 + 5, {}))
    out += detector.feed(DeviceEvent("bathroom-radar", "radar_stationary", T0 + 200, {}))
    assert [(e.kind, e.data.get("source")) for e in out if isinstance(e, DeviceEvent)] == [
        ("fall", "radar"), ("long_lie", "radar")]


def test_largest_region() -> None:
    import numpy as np

    grid = np.zeros((4, 4), dtype=bool)
    grid[0, 0] = grid[0, 1] = grid[1, 1] = True
    grid[3, 3] = True
    assert largest_region(grid) == 3
