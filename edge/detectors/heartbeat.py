"""Heart rate from a ballistocardiogram, from three independent views of the beat.

Each heartbeat shakes the bed as a short burst of vibration (the H-I-J-K complex, energy at
about 1–12 Hz whatever the sensor). Three methods look at it differently and fail
differently:

- **envelope spectrum**: the envelope of the burst band repeats at the heart rate; its
  spectral peak is robust to the waveform's shape but can lock on to a harmonic;
- **autocorrelation** of the band-passed signal: the lag at which the waveform repeats;
- **local intervals** after Brüser et al. 2013 ("Robust inter-beat interval estimation in
  cardiac vibration signals", Physiol. Meas. 34:123): for short windows along the signal, the
  interval that maximises the product of three indicators (short-time autocorrelation,
  inverse average magnitude difference, maximum amplitude of pairs); the median of those
  local intervals, and the share of them that agree with it.

A rate is reported only when all three agree (`rate_views.fuse`). The search spans
30–180 bpm: the alarm thresholds (45 and 120 bpm by default) and NEWS2's extreme rows (≤ 40,
≥ 131) with room to spare, so that a slow or fast heart is reported rather than abstained on.
That range holds the half and the third of a normal heart's rate (35 bpm for 70, 33 for
100): the autocorrelation and the local intervals take the shortest repeat of the beat, and
views at 2:1 or 3:1 of each other make the estimator abstain. Nothing depends on the sensor
kind or its sample rate: the band is resampled to a fixed working rate first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from edge.detectors.rate_views import (
    Fused,
    Spectrum,
    View,
    acf_peak,
    autocorrelation,
    fuse,
    power_ratio,
    spectral_peak,
)

HR_RANGE_BPM = (30.0, 180.0)  # 0.5–3 Hz: past the alarm thresholds and NEWS2's ≤40 / ≥131
BEAT_BAND_HZ = (1.0, 12.0)  # energy of the H-I-J-K complex on bed sensors
WORKING_RATE = 50.0  # samples/s the beat band is resampled to: plenty for a 12 Hz band
# The envelope's carrier band starts above the fastest heart rate (3 Hz): demodulating a
# band that holds the rate itself (or breathing's harmonics) makes the envelope follow those.
BURST_BAND_HZ = (3.2, 12.0)
ENVELOPE_S = 0.1  # smoothing of the burst envelope, about one J-wave
# Views must agree within this fraction of the rate: 6 % is 6 bpm at 100 bpm, well inside
# the 2:1 and 3:2 ratios of harmonic errors, wider than beat-to-beat variation over 30 s.
AGREEMENT = 0.06
# What each view (envelope spectrum, autocorrelation, local intervals) reaches on noise
# alone, 99th percentile over 500 windows of white and random-walk noise at 25–1000 Hz.
NOISE_STRENGTH = (0.35, 0.2, 0.6)
# Envelope power at half the agreed rate, against the rate's own: under 0.05 on every clean
# window seen (real and simulated); a beat split in two unequal bursts gives more.
SUBHARMONIC_SHARE = 0.1
LOCAL_STEP_S = 0.5  # spacing of the local interval estimates
# The local intervals compare every sample with every candidate interval: at half the
# working rate they cost a quarter, and the 10 Hz band that remains still holds the J-wave.
LOCAL_RATE = 25.0


@dataclass(frozen=True)
class HeartEstimate:
    """Heart rate (bpm) or None, the quality (0–1) and what each view saw."""

    bpm: float | None
    quality: float
    views: tuple[View, ...]
    reason: str


def estimate_heart(spectrum: Spectrum) -> HeartEstimate:
    """Estimate the heart rate of one window of a bed sensor, or abstain with a reason."""
    lo_hz, hi_hz = HR_RANGE_BPM[0] / 60, HR_RANGE_BPM[1] / 60
    beat, rate = spectrum.band(*BEAT_BAND_HZ, WORKING_RATE)
    burst, _ = spectrum.band(*BURST_BAND_HZ, WORKING_RATE)
    width = max(1, round(ENVELOPE_S * rate))
    envelope = np.convolve(np.abs(burst), np.ones(width) / width, mode="same")
    views = (spectral_peak(envelope, rate, lo_hz, hi_hz, "envelope spectrum", 0.08),
             acf_peak(autocorrelation(beat), rate, lo_hz, hi_hz, "autocorrelation"),
             local_intervals(*spectrum.band(*BEAT_BAND_HZ, LOCAL_RATE), lo_hz, hi_hz))
    fused: Fused = fuse(list(views), AGREEMENT, NOISE_STRENGTH)
    if fused.hz is None:
        return HeartEstimate(None, 0.0, views, fused.reason)
    # A beat seen as two bursts (J-wave and a strong later wave) fools every view alike into
    # twice the rate; the envelope then still swings at the true rate: at half of ours.
    if fused.hz / 2 >= lo_hz and \
            power_ratio(envelope, rate, fused.hz / 2, fused.hz, 0.05) > SUBHARMONIC_SHARE:
        return HeartEstimate(None, 0.0, views, "a rhythm at half the rate as well")
    return HeartEstimate(round(60 * fused.hz, 1), round(fused.quality, 3), views, "")


def local_intervals(x: np.ndarray, fs: float, lo_hz: float, hi_hz: float) -> View:
    """Beat intervals from short windows (after Brüser et al. 2013); their median as a rate.

    Strength is the share of local intervals within 10 % of the median: a real rhythm gives
    the same interval all along the window, noise gives scattered ones.
    """
    shortest, longest = max(2, int(fs / hi_hz)), int(np.ceil(fs / lo_hz))
    step = max(1, int(LOCAL_STEP_S * fs))
    blocks = -(-2 * longest // step)  # each local window holds two beats at the slowest rate
    span = blocks * step
    n = len(x)
    if n < longest + span + step:
        return View("local intervals", 0.0, 0.0)
    lags = np.arange(shortest, longest + 1)
    now = x[longest:]
    before = x[np.arange(longest, n)[None, :] - lags[:, None]]  # (lags, samples)
    # Sums over each local window from running sums: every sample is multiplied once per
    # lag, however much the windows overlap.
    starts = np.arange(0, len(now) - span + 1, step)
    corr = _window_sums(now * before, starts, span)
    amdf = _window_sums(np.abs(now - before), starts, span)
    whole = (len(now) // step) * step
    block_max = (now + before)[:, :whole].reshape(len(lags), -1, step).max(axis=2)
    pairs = sliding_window_view(block_max, blocks, axis=1).max(axis=2)[:, :len(starts)]
    corr, amdf, pairs = corr.T, amdf.T, pairs.T  # (windows, lags)
    # Each indicator is scaled to 0–1 over the candidate intervals, then they are multiplied
    # (the paper's fusion of independent likelihoods): all three must favour an interval.
    score = _unit(corr) * _unit(-amdf) * _unit(pairs)
    best = np.argmax(score, axis=1)
    # A beat repeats at twice and three times its interval too: when the score at a half or
    # a third of the chosen interval is nearly as high, the shorter interval is the beat (as
    # in `acf_peak`). Twice over: a sixth is a half, then a third.
    for divisor in (2, 3, 2, 3):
        best = _shorter(score, best, lags, divisor)
    intervals = (shortest + _refine_rows(score, best)) / fs
    median = float(np.median(intervals))
    agree = float(np.mean(np.abs(intervals / median - 1) <= 0.1))
    return View("local intervals", 1 / median if median > 0 else 0.0, agree)


def _shorter(score: np.ndarray, best: np.ndarray, lags: np.ndarray, divisor: int
             ) -> np.ndarray:
    """Move each row's choice to about 1/`divisor` of its interval where the score there is
    at least half as high (the chosen interval was a repeat of the beat)."""
    rows = np.arange(len(score))
    part = np.round(lags[best] / divisor - lags[0]).astype(int)
    usable = part >= 1
    near = np.clip(part, 1, len(lags) - 2)
    around = np.stack([score[rows, near - 1], score[rows, near], score[rows, near + 1]])
    shorter = usable & (around.max(axis=0) >= 0.5 * score[rows, best])
    return np.where(shorter, near - 1 + np.argmax(around, axis=0), best)


def _refine_rows(score: np.ndarray, best: np.ndarray) -> np.ndarray:
    """The sub-sample position of each row's peak (a parabola through 3 points, as `refine`)."""
    rows = np.arange(len(score))
    k = np.clip(best, 1, score.shape[1] - 2)
    a, b, c = score[rows, k - 1], score[rows, k], score[rows, k + 1]
    denominator = a - 2 * b + c
    inside = (best == k) & (denominator < 0)
    shift = np.divide(0.5 * (a - c), denominator, out=np.zeros_like(a), where=inside)
    return best + shift


def _window_sums(a: np.ndarray, starts: np.ndarray, span: int) -> np.ndarray:
    """Sum each row of `a` over [start, start + span) for every start."""
    running = np.zeros((a.shape[0], a.shape[1] + 1))
    np.cumsum(a, axis=1, out=running[:, 1:])
    return running[:, starts + span] - running[:, starts]


def _unit(a: np.ndarray) -> np.ndarray:
    """Scale each row to 0–1 (a flat row becomes all zeros: no preference, no vote)."""
    low = a.min(axis=1, keepdims=True)
    span = a.max(axis=1, keepdims=True) - low
    return np.divide(a - low, span, out=np.zeros_like(a), where=span > 0)
