"""Rate alarms at the edges of the clinical tables, and one alarm per episode.

The estimator searches 30–180 bpm and 4–40 breaths a minute, so that a heart at 36 bpm or
breathing at 34 a minute (beyond the alarm thresholds of 45/120 bpm and 8/28 a minute, and
scoring 3 in NEWS2) is reported, while a normal heart is still never reported at a half or a
third of its rate. A window where the estimator abstains says nothing about the rate: it
neither starts nor ends an episode of the rate alarms or of NEWS2.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.detectors.bcg import estimate_rates
from edge.detectors.cardiorespiratory import RateAlarmConfig, RateAlarmDetector
from edge.detectors.news2 import News2Config, News2Detector
from edge.items import DetectorOutput, DeviceEvent, Observation
from firmware_sim.physiology import Resident, Segment, render_bed

STRIP = 4  # the strip's column in the rendered bed
T0 = 1_764_000_000.0
STEP_S = 30.0  # the vitals detector's cadence


def _lying(fs: float, hr: float, rr: float, seed: int) -> np.ndarray:
    resident = Resident(hr_bpm=hr, rr_bpm=rr, restlessness=0.3)
    return render_bed([Segment("lying", 30.0)], resident, fs,
                      np.random.default_rng(seed)).samples[:, STRIP].copy()


# -- the estimator's search ---------------------------------------------------------------------

@pytest.mark.parametrize("hr", [32.0, 36.0, 165.0, 175.0])
def test_heart_rates_beyond_the_alarm_thresholds_are_reported(hr: float) -> None:
    reported = [estimate_rates(_lying(fs, hr, 14.0, 31_000 + int(hr) * 10 + s), fs)
                .heart_rate_bpm for fs in (25.0, 50.0, 250.0) for s in range(4)]
    found = [r for r in reported if r is not None]
    assert all(abs(r - hr) <= max(3.0, 0.03 * hr) for r in found), (hr, reported)
    assert len(found) >= 0.5 * len(reported), (hr, reported)


@pytest.mark.parametrize("rr", [4.5, 5.0, 34.0, 36.0, 39.0])
def test_breathing_rates_beyond_the_alarm_thresholds_are_reported(rr: float) -> None:
    reported = [estimate_rates(_lying(fs, 70.0, rr, 32_000 + int(rr * 10) + s), fs)
                .breathing_rate_bpm for fs in (25.0, 250.0) for s in range(3)]
    assert all(r is not None and abs(r - rr) <= 1 for r in reported), (rr, reported)


def test_a_normal_heart_is_never_reported_at_a_half_or_a_third_of_its_rate() -> None:
    """The wider search holds 35 bpm, half of a 70 bpm heart, and the third of 100 bpm."""
    reported = []
    for fs in (25.0, 50.0, 250.0):
        for hr in (62.0, 70.0, 80.0, 95.0, 110.0, 125.0):
            for s in range(2):
                rates = estimate_rates(_lying(fs, hr, 15.0, 33_000 + int(hr) * 10 + s), fs)
                if rates.heart_rate_bpm is not None:
                    reported.append((fs, hr, rates.heart_rate_bpm))
    assert len(reported) >= 0.8 * 36
    wrong = [r for r in reported if abs(r[2] - r[1]) > 10]
    assert wrong == []


# -- whole sessions: bytes, driver, every detector ------------------------------------------------

HELD_OUT_SEEDS = (62_020, 62_021, 62_022)  # the held-out part's seed range, unused elsewhere


@pytest.mark.parametrize(("episode", "value"), [("bradycardia", 36.0), ("tachypnea", 34.0)])
def test_an_episode_beyond_the_old_search_is_alerted_once(episode: str, value: float) -> None:
    from firmware_sim.episodes import episodes, rate_episode
    from firmware_sim.scenarios import library
    from rig.eval import run_day, score

    used = {d.seed for d in library()} | {d.seed for p in ("tuning", "heldout")
                                          for d in episodes(p)}
    assert not used & set(HELD_OUT_SEEDS)
    days = [rate_episode("heldout", seed, 30 + i, episode, value=value)
            for i, seed in enumerate(HELD_OUT_SEEDS)]
    per = score([run_day(d) for d in days])["detectors"]
    for kind in (episode, "news2_medium"):
        assert per[kind]["truths"] == len(days), per
        assert per[kind]["sensitivity"] == 1.0 and per[kind]["false_alerts"] == 0, (kind, per)
    others = {"bradycardia", "tachycardia", "bradypnea", "tachypnea"} - {episode}
    assert all(per.get(k, {}).get("false_alerts", 0) == 0 for k in others), per


# -- the rate alarms: abstentions hold the episode ----------------------------------------------

def _vitals(i: int, hr: float | None, rr: float | None = 14.0) -> Observation:
    fields: dict[str, bool | int | float | str] = {"quality": 0.8}
    if hr is not None:
        fields["heart_rate_bpm"], fields["heart_quality"] = hr, 0.8
    if rr is not None:
        fields["breathing_rate_bpm"], fields["breathing_quality"] = rr, 0.8
    return Observation("bed", "vitals", T0 + i * STEP_S, fields)


def _kinds(detector: RateAlarmDetector | News2Detector,
           windows: list[Observation]) -> list[tuple[str, int]]:
    """(kind, window index) of every event."""
    out: list[tuple[str, int]] = []
    for window in windows:
        found: list[DetectorOutput] = detector.feed(window)
        out += [(e.kind, round((window.t - T0) / STEP_S)) for e in found
                if isinstance(e, DeviceEvent)]
    return out


def _run(hrs: list[float | None], first: int = 0) -> list[Observation]:
    return [_vitals(first + i, hr) for i, hr in enumerate(hrs)]


def test_an_episode_interrupted_by_abstaining_windows_alerts_once() -> None:
    # A tachycardia of 12 minutes whose windows the estimator abstains on one time in three.
    hrs: list[float | None] = [72, 72, 130, None, 132, 128, None, None, 131, 129, None, 133,
                               None, 130, 134, None, 128, 131, None, 130, 129, None, 131, 130,
                               None, 132]
    events = _kinds(RateAlarmDetector(), _run(hrs))
    assert events == [("tachycardia", 5)]  # the third window measured beyond 120 bpm


def test_abstaining_windows_neither_start_nor_end_an_episode() -> None:
    detector = RateAlarmDetector(RateAlarmConfig(persistence=3, recovery=3))
    # Two windows beyond, four abstained on: still two, the next one beyond is the third.
    assert _kinds(detector, _run([38, 38, None, None, None, None])) == []
    assert _kinds(detector, _run([39], 6)) == [("bradycardia", 6)]
    # Abstentions and two normal windows do not end it; a window beyond does not re-alert.
    assert _kinds(detector, _run([None, 62, None, 64, None, 38, 38, 38, 38], 7)) == []
    # Three measured normal windows in a row do (abstentions between them hold the count).
    assert _kinds(detector, _run([60, None, 61, 62], 16)) == []
    assert _kinds(detector, _run([38, 37, None, 38], 20)) == [("bradycardia", 23)]


def test_a_measured_normal_window_breaks_a_streak_before_the_alarm() -> None:
    assert _kinds(RateAlarmDetector(), _run([130, 130, 80, 130, 130, None, 80])) == []


def test_a_long_gap_without_a_rate_ends_the_episode() -> None:
    detector = RateAlarmDetector(RateAlarmConfig(vitals_max_age_s=600))
    assert _kinds(detector, _run([36, 36, 36])) == [("bradycardia", 2)]
    # Out of bed for a quarter of an hour: no readings at all, then the heart is slow again.
    assert _kinds(detector, _run([36, 36, 36], 33)) == [("bradycardia", 35)]
    # Half-minute windows abstaining for 20 minutes are a gap as well.
    gap = _run([None] * 40, 36)
    assert _kinds(detector, gap + _run([36, 36, 36], 76)) == [("bradycardia", 78)]
    # A streak does not span a gap either: windows an hour apart are not "in a row".
    assert _kinds(detector, [_vitals(200, 130), _vitals(320, 130), _vitals(440, 130)]) == []


def test_each_rate_holds_its_own_episode() -> None:
    detector = RateAlarmDetector()
    # Breathing is measured all along; the heart only now and then.
    windows = [_vitals(i, 130 if i % 3 == 0 else None, 31) for i in range(30)]
    events = _kinds(detector, windows)
    assert events == [("tachypnea", 2), ("tachycardia", 6)]


# -- NEWS2: one measurement counts once ------------------------------------------------------------

def test_news2_never_scores_a_rate_again_in_a_window_that_did_not_measure_it() -> None:
    # One window at 38 bpm (3 points), then breathing alone: that pulse is not scored again.
    windows = [_vitals(0, 38)] + [_vitals(i, None) for i in range(1, 8)]
    assert _kinds(News2Detector(), windows) == []


def test_news2_episode_interrupted_by_abstaining_windows_is_raised_once() -> None:
    hrs: list[float | None] = [36, None, 36, 37, None, None, None, None, 36, None, 35, 36,
                               None, None, None, None, None, 36, 36]
    assert _kinds(News2Detector(), _run(hrs)) == [("news2_medium", 3)]


def test_news2_episode_ends_after_normal_scores_or_a_long_gap() -> None:
    detector = News2Detector(News2Config(vitals_max_age_s=600))
    assert _kinds(detector, _run([36, 36, 36])) == [("news2_medium", 2)]
    # Complete normal scores end it (abstentions between them hold the count).
    assert _kinds(detector, _run([70, None, 70, 70, 36, 36, 36], 3)) == [("news2_medium", 9)]
    # Nothing measured for a quarter of an hour: what follows is a new episode.
    assert _kinds(detector, _run([36, 36, 36], 40)) == [("news2_medium", 42)]
