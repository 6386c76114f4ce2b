"""Breathing rate from a bed sensor, from three views that must agree.

Breathing shifts the body's weight and the chest's pressure on the mattress at 0.1–0.5 Hz;
every bed sensor sees it, far stronger than the heartbeat. Three views of that band:

- **spectrum**: its strongest frequency;
- **autocorrelation**: the lag at which the band repeats;
- **breath intervals**: the time between successive breaths (upward zero crossings of the
  band), their median, and the share of breaths that keep to it.

As for the heart rate (`edge.detectors.heartbeat`), a rate is reported only when the views
agree; breaths vary more from one to the next than heartbeats, so the tolerance is wider.
The search spans 4–40 breaths a minute: past the alarm thresholds (8 and 28 by default) and
NEWS2's extreme rows (≤ 8, ≥ 25), so that slow or fast breathing is reported, not abstained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.detectors.rate_views import (
    Spectrum,
    View,
    acf_peak,
    autocorrelation,
    fuse,
    spectral_peak,
)

RR_RANGE_BPM = (4.0, 40.0)  # breaths per minute: past the alarm thresholds and NEWS2's rows
# Wide enough to keep the slowest and fastest breaths searched (0.067–0.67 Hz) at full gain.
BREATH_BAND_HZ = (0.05, 0.8)
WORKING_RATE = 5.0  # samples/s: ample for a band that ends at 0.7 Hz
AGREEMENT = 0.12  # 12 %: 1.7 breaths/min at 14, inside the 3:2 and 2:1 harmonic ratios
# What each view (spectrum, autocorrelation, breath intervals) reaches on noise alone, 90th
# percentile over 300 windows of white and random-walk noise at 25–250 Hz. A 30-s window
# holds too few breaths to ask for the 99th: breathing on a bed sensor is far above its
# noise, so this gate only has to keep out windows without any.
NOISE_STRENGTH = (0.56, 0.51, 0.72)
# Breaths vary from one to the next more than beats do, so the autocorrelation's first
# repeat is often lower than a later one: half as high is enough to take the shorter period
# (on the real recording this keeps 29 of 37 windows where 0.7, the heart's, keeps 26).
REPEAT = 0.5
EVIDENCE = 1.0  # on average as strong as noise's 90th percentile: 4 of 300 noise windows pass
MIN_WINDOW_S = 20.0  # at least two slow breaths


@dataclass(frozen=True)
class BreathEstimate:
    """Breathing rate (per minute) or None, the quality (0–1) and what each view saw."""

    per_minute: float | None
    quality: float
    views: tuple[View, ...]
    reason: str


def estimate_breathing(spectrum: Spectrum) -> BreathEstimate:
    """Estimate the breathing rate of one window of a bed sensor, or abstain with a reason."""
    if spectrum.n / spectrum.fs < MIN_WINDOW_S - 1e-9:
        return BreathEstimate(None, 0.0, (), f"window shorter than {MIN_WINDOW_S:.0f} s")
    lo_hz, hi_hz = RR_RANGE_BPM[0] / 60, RR_RANGE_BPM[1] / 60
    breath, rate = spectrum.band(*BREATH_BAND_HZ, WORKING_RATE)
    views = (spectral_peak(breath, rate, lo_hz, hi_hz, "spectrum", 0.03),
             acf_peak(autocorrelation(breath), rate, lo_hz, hi_hz, "autocorrelation",
                      REPEAT),
             breath_intervals(breath, rate, lo_hz, hi_hz))
    fused = fuse(list(views), AGREEMENT, NOISE_STRENGTH, EVIDENCE)
    per_minute = None if fused.hz is None else round(60 * fused.hz, 1)
    return BreathEstimate(per_minute, round(fused.quality, 3), views, fused.reason)


def breath_intervals(x: np.ndarray, fs: float, lo_hz: float, hi_hz: float) -> View:
    """The median time between breaths (upward zero crossings of the breathing band).

    Crossings closer than the fastest breath are ripples of one breath and are merged.
    Strength is the share of intervals within 25 % of the median.
    """
    # A hysteresis of a fifth of the band's spread keeps noise around zero from counting.
    level = 0.2 * float(np.std(x))
    below = x < -level
    above = x > level
    crossings: list[int] = []
    armed = False
    for i in np.flatnonzero(below | above):
        if below[i]:
            armed = True
        elif armed:
            crossings.append(int(i))
            armed = False
    intervals = np.diff(crossings) / fs
    intervals = intervals[intervals >= 1 / hi_hz * 0.8]
    if len(intervals) < 1:  # 30 s at 6 breaths a minute hold only two or three breaths
        return View("breath intervals", 0.0, 0.0)
    median = float(np.median(intervals))
    if not 1 / hi_hz * 0.8 <= median <= 1 / lo_hz * 1.2:
        return View("breath intervals", 0.0, 0.0)
    keep = float(np.mean(np.abs(intervals / median - 1) <= 0.25))
    return View("breath intervals", 1 / median, keep)
