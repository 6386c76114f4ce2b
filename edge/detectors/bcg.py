"""Heart and breathing rates from one channel of a bed signal (a ballistocardiogram).

Heart rate: each heartbeat shakes the bed as a short burst of 2–10 Hz vibration (the
H-I-J-K complex); the envelope of that band repeats at the heart rate, so its spectral peak
in 0.7–2.7 Hz (42–162 bpm) is the rate. This resists the harmonics that mislead a plain
spectral peak of the raw signal. Breathing: the spectral peak of the 0.1–0.7 Hz band.
Windows with movement (large bursts, clipped or dropped samples) report nothing.
Pure numpy; no I/O, no clock.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

HR_BAND_HZ = (0.7, 2.7)  # 42–162 bpm (references §4: ~0.7–3 Hz fundamental)
BCG_BURST_BAND_HZ = (2.0, 10.0)
RR_BAND_HZ = (0.1, 0.7)  # breathing band (references §4)
MIN_WINDOW_S = 10.0
MAX_WINDOW_S = 60.0
# Below this share of the heartbeat band at its peak, the window holds no clear rhythm.
MIN_HR_SHARE = 0.2


@dataclass(frozen=True)
class VitalRates:
    heart_rate_bpm: float | None
    breathing_rate_bpm: float | None
    quality: float


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


def _peak(signal: np.ndarray, fs: float, lo: float, hi: float) -> tuple[float, float]:
    """Return (frequency of the spectral peak in [lo, hi], share of band power around it)."""
    n = len(signal)
    nfft = 1 << int(np.ceil(np.log2(8 * n)))  # fine frequency grid
    power = np.abs(np.fft.rfft((signal - signal.mean()) * np.hanning(n), nfft)) ** 2
    f = np.fft.rfftfreq(nfft, 1 / fs)
    band = (f >= lo) & (f <= hi)
    if not band.any() or power[band].sum() <= 0:
        return 0.0, 0.0
    fb, pb = f[band], power[band]
    k = int(np.argmax(pb))
    near = np.abs(fb - fb[k]) <= 0.08
    return float(fb[k]), float(pb[near].sum() / pb.sum())


def movement(signal: np.ndarray, fs: float) -> bool:
    """Return True when the window holds movement: clipping, dropouts or large bursts."""
    if np.ptp(signal) == 0:
        return True
    lo, hi = float(signal.min()), float(signal.max())
    edges = (signal <= lo) | (signal >= hi)
    if edges.mean() > 0.01:  # clipped or dropped samples sit at the range's ends
        return True
    fast = bandpass(signal, fs, *BCG_BURST_BAND_HZ)
    seconds = np.array_split(np.abs(fast), max(1, int(len(fast) / fs)))
    level = np.array([s.mean() for s in seconds])
    # A burst far above the window's typical beat energy is a body moving, not a heart.
    return bool(level.max() > 6 * np.median(level) + 1e-12)


def estimate_rates(signal: np.ndarray, fs: float) -> VitalRates:
    """Estimate heart and breathing rate from a 10–60 s window of one bed-sensor channel."""
    x = np.asarray(signal, dtype=np.float64)
    seconds = len(x) / fs
    if not MIN_WINDOW_S - 1e-9 <= seconds <= MAX_WINDOW_S + 1e-9:
        raise ValueError(f"window of {seconds:.1f} s; give {MIN_WINDOW_S:.0f}–"
                         f"{MAX_WINDOW_S:.0f} s")
    if not np.all(np.isfinite(x)) or movement(x, fs):
        return VitalRates(None, None, 0.0)
    burst = bandpass(x, fs, *BCG_BURST_BAND_HZ)
    width = max(1, int(0.1 * fs))
    envelope = np.convolve(np.abs(burst), np.ones(width) / width, mode="same")
    hr_hz, hr_share = _peak(envelope, fs, *HR_BAND_HZ)
    breath = bandpass(x, fs, *RR_BAND_HZ)
    rr_hz, rr_share = _peak(breath, fs, *RR_BAND_HZ) if seconds >= 20 else (0.0, 0.0)
    # Quality: how much of each band's power sits at its peak.
    quality = float(np.clip(hr_share, 0, 1))
    heart = round(60 * hr_hz, 1) if hr_share >= MIN_HR_SHARE else None
    breathing = round(60 * rr_hz, 1) if rr_share >= 0.25 else None
    return VitalRates(heart, breathing, round(quality, 3))
