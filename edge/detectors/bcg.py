"""Heart and breathing rates from one channel of a bed signal (a ballistocardiogram).

`estimate_rates` first refuses windows a still sleeper cannot produce (movement: large
bursts, clipped or dropped samples; talking: bursts in the voice band when the sensor is
sampled fast enough to see it), then asks `edge.detectors.heartbeat` and
`edge.detectors.breathing`, which report a rate only when three independent views of the
rhythm agree. Any sensor kind and any sample rate from 25 to 1000 Hz, with the same
parameters. Pure numpy; no I/O, no clock.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from edge.detectors.breathing import estimate_breathing
from edge.detectors.heartbeat import estimate_heart
from edge.detectors.rate_views import Spectrum

BCG_BURST_BAND_HZ = (2.0, 10.0)
RR_BAND_HZ = (0.1, 0.7)  # breathing band (references §4)
MIN_WINDOW_S = 10.0
MAX_WINDOW_S = 60.0
MIN_LEVELS = 64  # fewer distinct values in a window: too coarse to tell clipping
VOICE_LOW_HZ = 80.0  # lowest fundamental of an adult voice
VOICE_BURST = 10.0  # voice-band energy ten times that of the window's quiet stretches


@dataclass(frozen=True)
class VitalRates:
    """Rates of one window; None where the estimator abstained (`note` says why).

    `quality` (0–1) is the heart rate's when one is reported, else the breathing rate's;
    higher quality, smaller error (docs/detectors.md has the calibration).
    """

    heart_rate_bpm: float | None
    breathing_rate_bpm: float | None
    quality: float
    heart_quality: float = 0.0
    breathing_quality: float = 0.0
    note: str = ""


def bandpass(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    """Return `x` band-limited to [lo, hi] Hz by zeroing FFT bins (with tapered edges)."""
    n = len(x)
    return np.fft.irfft(np.fft.rfft(x - x.mean()) * _gain(n, fs, lo, hi), n)


@functools.lru_cache(maxsize=32)
def _gain(n: int, fs: float, lo: float, hi: float) -> np.ndarray:
    """The band's gain per FFT bin; detectors filter windows of the same few lengths."""
    f = np.fft.rfftfreq(n, 1 / fs)
    taper = 0.1 * (hi - lo)
    gain = np.clip(np.minimum((f - lo) / taper + 1, (hi - f) / taper + 1), 0, 1)
    gain.flags.writeable = False
    return gain


def movement(signal: np.ndarray, fs: float, spectrum: Spectrum | None = None) -> bool:
    """Return True when the window holds movement: clipping, dropouts or large bursts."""
    if np.ptp(signal) == 0:
        return True
    lo, hi = float(signal.min()), float(signal.max())
    edges = (signal <= lo) | (signal >= hi)
    # Clipped or dropped samples sit at the range's ends, unless the converter is so coarse
    # for this signal that a few levels are all there is (then ends are just its peaks).
    if edges.mean() > 0.01 and len(np.unique(signal)) >= MIN_LEVELS:
        return True
    # From the detrended, tapered spectrum: a plain FFT filter would wrap the window's two
    # ends into each other and call the jump between them a burst.
    fast, rate = (spectrum or Spectrum(signal, fs)).band(*BCG_BURST_BAND_HZ, 50.0)
    size = max(1, int(rate))
    seconds = max(1, len(fast) // size)
    level = np.abs(fast[: seconds * size]).reshape(seconds, -1).mean(axis=1)
    # A burst far above the window's typical beat energy is a body moving, not a heart.
    return bool(level.max() > 6 * np.median(level) + 1e-12)


def voice(x: np.ndarray, fs: float) -> bool:
    """Return True when the voice band (80 Hz up) holds bursts: the resident is talking.

    Only sensors sampled at 200 Hz or more see it; below that, speech folds into the lower
    bands, where the burst check of `movement` and the views' disagreement catch it.
    """
    if fs < 200:
        return False
    voiced = bandpass(x, fs, VOICE_LOW_HZ, 0.45 * fs)
    size = int(fs / 2)  # half seconds: the pauses between phrases are that short
    count = len(voiced) // size
    energy = (voiced[: count * size] ** 2).reshape(count, size).mean(axis=1)
    energy = energy[1:-1]  # the filter wraps the window's two ends into each other
    # Against the quietest stretches, not the median: a talkative window is mostly speech.
    return bool(energy.max() > VOICE_BURST * np.percentile(energy, 10) + 1e-18)


def estimate_rates(signal: np.ndarray, fs: float) -> VitalRates:
    """Estimate heart and breathing rate from a 10–60 s window of one bed-sensor channel."""
    x = np.asarray(signal, dtype=np.float64)
    seconds = len(x) / fs
    if not MIN_WINDOW_S - 1e-9 <= seconds <= MAX_WINDOW_S + 1e-9:
        raise ValueError(f"window of {seconds:.1f} s; give {MIN_WINDOW_S:.0f}–"
                         f"{MAX_WINDOW_S:.0f} s")
    if not np.all(np.isfinite(x)):
        return VitalRates(None, None, 0.0, note="samples that are not numbers")
    spectrum = Spectrum(x, fs)
    if movement(x, fs, spectrum):
        return VitalRates(None, None, 0.0, note="movement")
    if voice(x, fs):
        return VitalRates(None, None, 0.0, note="talking")
    heart = estimate_heart(spectrum)
    breath = estimate_breathing(spectrum)
    quality = heart.quality if heart.bpm is not None else breath.quality
    note = "; ".join(f"{what}: {why}" for what, why in
                     (("heart", heart.reason), ("breathing", breath.reason)) if why)
    return VitalRates(heart.bpm, breath.per_minute, quality, heart.quality, breath.quality,
                      note)
