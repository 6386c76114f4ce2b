"""The rate estimator on a real bed recording with a reference heart rate.

`../shared/data/bcg/` beside the repository holds 18.6 minutes of a sleeper on an
under-mattress microbend fibre-optic mat at 50 Hz with a pulse-oximeter heart rate (Sadek
et al., IEEE Access 2018; see its README). The data are never copied into the repository:
without the folder these tests skip and say where they looked.

Targets: heart-rate MAE ≤ 3 bpm at ≥ 90 % coverage on 30-s windows, and no more than 5 % of
reported windows off by more than 10 bpm. The estimator's parameters come from physiology
and the simulator, not from this file; windows shifted by 15 s are a second, overlapping
check that the figures do not hinge on where the windows fall.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from edge.detectors.bcg import VitalRates, estimate_rates
from edge.detectors.breathing import RR_RANGE_BPM

FOLDER = Path(__file__).resolve().parents[3] / "shared" / "data" / "bcg"
RECORDING = FOLDER / "sadek_mfos_50hz.csv"
WINDOW_S = 30.0


@pytest.fixture(scope="module")
def recording() -> tuple[np.ndarray, np.ndarray, float]:
    """(sensor samples, reference heart rate per sample, sample rate)."""
    if not RECORDING.exists():
        pytest.skip(f"the real recording is not at {RECORDING} (the shared data folder "
                    f"../shared/data/bcg beside the repository)")
    data = np.genfromtxt(RECORDING, delimiter=",", skip_header=1)
    fs = 1000.0 / float(np.median(np.diff(data[:, 0])))
    return data[:, 1], data[:, 2], fs


def windows(recording: tuple[np.ndarray, np.ndarray, float], offset_s: float = 0.0
            ) -> list[tuple[float, VitalRates]]:
    """(reference mean, estimate) for each whole 30-s window from `offset_s` on."""
    signal, reference, fs = recording
    width = int(WINDOW_S * fs)
    return [(float(reference[s:s + width].mean()), estimate_rates(signal[s:s + width], fs))
            for s in range(int(offset_s * fs), len(signal) - width + 1, width)]


def score(results: list[tuple[float, VitalRates]]) -> dict[str, float]:
    errors = np.array([abs(r.heart_rate_bpm - ref) for ref, r in results
                       if r.heart_rate_bpm is not None])
    return {"windows": len(results), "reported": len(errors),
            "coverage": len(errors) / len(results),
            "mae_bpm": round(float(errors.mean()), 2),
            "off_by_10": float(np.mean(errors > 10))}


@pytest.mark.parametrize("offset_s", [0.0, 15.0])
def test_heart_rate_meets_the_target(recording: tuple[np.ndarray, np.ndarray, float],
                                     offset_s: float) -> None:
    figures = score(windows(recording, offset_s))
    assert figures["mae_bpm"] <= 3.0, figures
    assert figures["coverage"] >= 0.9, figures
    assert figures["off_by_10"] <= 0.05, figures


def test_movement_at_either_end_is_abstained_on(
        recording: tuple[np.ndarray, np.ndarray, float]) -> None:
    results = windows(recording)
    # The sleeper settles in the first window and the sensor saturates in the last.
    for _, first_or_last in (results[0], results[-1]):
        assert first_or_last.heart_rate_bpm is None
        assert first_or_last.note == "movement"


def test_quality_bins_on_the_recording(
        recording: tuple[np.ndarray, np.ndarray, float]) -> None:
    """Error against quality over windows every 5 s (the table in docs/detectors.md)."""
    signal, reference, fs = recording
    width = int(WINDOW_S * fs)
    pairs = []
    for s in range(0, len(signal) - width + 1, int(5 * fs)):
        rates = estimate_rates(signal[s:s + width], fs)
        if rates.heart_rate_bpm is not None:
            pairs.append((rates.quality, abs(rates.heart_rate_bpm - reference[s:s + width].mean())))
    quality, error = np.array(pairs).T
    bins = [(0.0, 0.5), (0.5, 0.8), (0.8, 1.01)]
    table = {f"{lo:.1f}–{min(hi, 1):.1f}": (int(((quality >= lo) & (quality < hi)).sum()),
                                            round(float(error[(quality >= lo) &
                                                              (quality < hi)].mean()), 2))
             for lo, hi in bins if ((quality >= lo) & (quality < hi)).any()}
    print("quality bin: (windows, HR MAE bpm)", table)
    # Error does not grow with quality (within 0.5 bpm: the reference, a pulse oximeter that
    # holds its value, has an error floor of about 2 bpm itself), and above 0.5 it is on target.
    maes = [mae for _, mae in table.values()]
    assert all(b <= a + 0.5 for a, b in itertools.pairwise(maes)), table
    assert error[quality >= 0.5].mean() <= 3.0, table


def test_breathing_is_within_the_resting_range(
        recording: tuple[np.ndarray, np.ndarray, float]) -> None:
    """No breathing reference in this recording: rates must be plausible and steady."""
    rates = [r.breathing_rate_bpm for _, r in windows(recording)]
    reported = [b for b in rates if b is not None]
    assert len(reported) >= 0.7 * len(rates), rates  # regression floor: 29 of 37 today
    assert all(RR_RANGE_BPM[0] <= b <= RR_RANGE_BPM[1] for b in reported), rates
    assert float(np.std(reported)) < 3.0, reported  # one sleeper, one night stage
