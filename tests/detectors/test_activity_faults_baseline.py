"""Inactivity, repositioning, sensor faults (never vital alarms) and personal baselines."""

from __future__ import annotations

from edge.detectors.activity import ActivityConfig, ActivityDetector
from edge.detectors.baseline import BaselineConfig, BaselineDetector
from edge.detectors.occupancy import OccupancyConfig, OccupancyDetector
from edge.detectors.sensor_faults import SensorFaultDetector
from edge.items import Observation
from firmware_sim.physiology import Resident, Segment, render_bed
from tests.detectors.helpers import T0, events, rng, run

DAY = T0 + 14 * 3600  # 10:00 local


def test_daytime_inactivity_once() -> None:
    rec = render_bed([Segment("empty", 2 * 3600)], Resident(), 5.0, rng(1), t0=DAY)
    out = run([ActivityDetector(ActivityConfig(inactivity_s=3600))], {"bed": rec}, block_s=10)
    [event] = events(out, "inactivity")
    assert event.t - DAY >= 3600


def test_reposition_due_for_a_bed_bound_resident() -> None:
    rec = render_bed([Segment("empty", 20), Segment("lying_down", 4), Segment("lying", 2.2 * 3600)],
                     Resident(restlessness=0.0), 5.0, rng(2), t0=DAY)
    detectors = [OccupancyDetector(OccupancyConfig(resident_weight_kg=62)),
                 ActivityDetector(ActivityConfig(bed_bound=True, reposition_s=7200,
                                                 inactivity_s=10 * 3600))]
    out = run(detectors, {"bed": rec}, block_s=2)
    [due] = events(out, "reposition_due")
    assert due.data["still_s"] >= 7200


def test_sensor_faults_once_per_episode() -> None:
    script = [Segment("empty", 60), Segment("flat", 120), Segment("empty", 120),
              Segment("disconnected", 120, {"channel": 2}), Segment("empty", 120)]
    rec = render_bed(script, Resident(), 25.0, rng(3), t0=T0)
    out = run([SensorFaultDetector()], {"bed": rec})
    faults = events(out, "sensor_fault")
    assert len(faults) == 2
    assert any("flat:0" in f.data["faults"] for f in faults)
    assert any("disconnected:2" in f.data["faults"] for f in faults)
    assert len(events(out, "sensor_recovered")) == 2


def _night(detector: BaselineDetector, night: int, hr: float) -> list:  # type: ignore[type-arg]
    start = T0 + night * 86400 + 3 * 3600  # 23:00 local
    out = detector.feed(Observation("bed", "occupancy", start, {"state": "in_bed"}))
    for k in range(30):
        out += detector.feed(Observation("bed", "vitals", start + 60 * k,
                                         {"heart_rate_bpm": hr, "breathing_rate_bpm": 14.0,
                                      "quality": 0.8}))
    return out


def test_baseline_learns_then_reports_drift() -> None:
    detector = BaselineDetector(BaselineConfig(learn_nights=5))
    out = []
    for night, hr in enumerate([60, 61, 59, 60, 62, 61, 60]):
        out += _night(detector, night, hr)
    assert events(out, "trend") == []
    out = _night(detector, 7, 75) + _night(detector, 8, 60)  # night 7 is closed on night 8
    [trend] = events(out, "trend")
    assert trend.data["measure"] == "heart_rate_bpm" and trend.data["value"] == 75
