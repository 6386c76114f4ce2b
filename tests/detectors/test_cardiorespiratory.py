"""Apnea, vitals while in bed, and rate alarms that need persistence."""

from __future__ import annotations

from edge.detectors.cardiorespiratory import (
    ApneaDetector,
    RateAlarmConfig,
    RateAlarmDetector,
    VitalsDetector,
)
from edge.detectors.occupancy import OccupancyConfig, OccupancyDetector
from edge.items import Observation
from firmware_sim.physiology import Resident, Segment, render_bed
from tests.detectors.helpers import T0, events, rng, run


def _night(script: list[Segment], seed: int = 1) -> list:  # type: ignore[type-arg]
    rec = render_bed([Segment("empty", 20), Segment("lying_down", 4), *script],
                     Resident(weight_kg=64, hr_bpm=60, rr_bpm=13), 25.0, rng(seed), t0=T0)
    detectors = [OccupancyDetector(OccupancyConfig(resident_weight_kg=64)), ApneaDetector(),
                 VitalsDetector()]
    return run(detectors, {"bed": rec})


def test_apnea_of_twenty_seconds_is_caught_and_short_pauses_are_not() -> None:
    out = _night([Segment("lying", 360), Segment("apnea", 26), Segment("lying", 200),
                  Segment("apnea", 12), Segment("lying", 200), Segment("apnea", 9),
                  Segment("lying", 100)])
    [apnea] = events(out, "apnea")
    start = T0 + 24 + 360
    assert start + 20 <= apnea.t <= start + 26 + 5
    assert apnea.data["duration_s"] >= 20


def test_no_apnea_while_sitting_on_the_edge_or_with_a_flat_sensor() -> None:
    out = _night([Segment("lying", 360), Segment("sitting_edge", 60), Segment("lying", 100),
                  Segment("flat", 60), Segment("lying", 100)])
    assert events(out, "apnea") == []


def test_vitals_only_while_lying_and_close_to_the_truth() -> None:
    out = _night([Segment("lying", 300)])
    vitals = [o for o in out if isinstance(o, Observation) and o.kind == "vitals"]
    assert len(vitals) >= 8
    assert all(abs(float(v.fields["heart_rate_bpm"]) - 60) < 3 for v in vitals)
    assert all(v.t >= T0 + 24 + 30 for v in vitals)


def test_rate_alarms_need_persistence() -> None:
    detector = RateAlarmDetector(RateAlarmConfig(persistence=3))

    def vitals(t: float, hr: float, rr: float = 14) -> Observation:
        return Observation("bed", "vitals", t, {"heart_rate_bpm": hr, "breathing_rate_bpm": rr,
                                                "quality": 0.8})

    assert detector.feed(vitals(0, 38)) == [] and detector.feed(vitals(30, 60)) == []
    out = [e for t in (60, 90, 120, 150) for e in detector.feed(vitals(t, 38))]
    assert [e.kind for e in out] == ["bradycardia"]  # once, after three windows
    out = [e for t in (180, 210, 240) for e in detector.feed(vitals(t, 70, 31))]
    assert [e.kind for e in out] == ["tachypnea"]
    low_quality = Observation("bed", "vitals", 300, {"heart_rate_bpm": 150, "quality": 0.1})
    assert [detector.feed(low_quality) for _ in range(5)] == [[]] * 5
