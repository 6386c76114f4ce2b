"""Building blocks shared by the heart-rate and breathing-rate estimators.

Every estimator works from one FFT of the window: a band of it is turned back into a signal
at a small working rate (`Spectrum.band`), so the cost and every parameter stay the same from
a 25 Hz load cell to a 1000 Hz piezo film. Each "view" of a rhythm — a spectral peak, an
autocorrelation peak, intervals between beats — returns a `View`; `fuse` accepts a rate only
when the views agree and none of them points to a harmonic of it.
Pure numpy; no I/O, no clock.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

MAINS_HZ = (50.0, 60.0)  # China's grid is 50 Hz; boards built for 60 Hz grids exist
MAINS_HARMONICS = 4
MAINS_TONE = 20.0  # a bin this far above its neighbourhood's median is hum, not a body
# Views must be, on average, this many times as strong as they get on noise alone: on 500
# windows of white and random-walk noise at 25–1000 Hz no heart rate passed.
EVIDENCE = 1.1
USED_HZ = 14.0  # no estimator looks above the heartbeat band's upper edge
MAINS_NOTCH_HZ = 0.5  # half-width: the tone itself, and its leakage through the window


@dataclass(frozen=True)
class View:
    """One method's opinion of a rhythm: its rate (Hz, 0 for none) and how clear it was (0–1)."""

    name: str
    hz: float
    strength: float


@dataclass(frozen=True)
class Fused:
    """The agreed rate (Hz) of several views, or None with the reason for abstaining."""

    hz: float | None
    quality: float
    reason: str


class Spectrum:
    """The FFT of one window (mean removed), reused for every band an estimator needs."""

    def __init__(self, x: np.ndarray, fs: float) -> None:
        self.n, self.fs = len(x), fs
        # Breathing moves a bed sensor a hundred times more than a heartbeat does: without a
        # straight trend removed and tapered ends, its leakage would swamp the beat band.
        t = np.linspace(-1.0, 1.0, self.n)
        slope = float(np.dot(t, x)) / float(np.dot(t, t))
        self.coefficients = np.fft.rfft((x - x.mean() - slope * t) * _tukey(self.n))
        self._notch_mains()

    def _notch_mains(self) -> None:
        """Zero the bins of mains hum (50 or 60 Hz and harmonics), wherever it aliases to.

        A sensor sampled at 50 Hz sees 60 Hz hum at 10 Hz, inside the heartbeat band; a
        fixed tone there would pass for a perfectly regular rhythm in every view.
        """
        power: np.ndarray | None = None
        for notch, around in _mains_bins(self.n, self.fs):
            if power is None:
                power = self.coefficients.real ** 2 + self.coefficients.imag ** 2
            # Only where a tone stands out: a notch costs the beat band some signal.
            if power[notch].max() > MAINS_TONE * np.median(power[around]):
                self.coefficients[notch] = 0

    def band(self, lo: float, hi: float, rate: float) -> tuple[np.ndarray, float]:
        """Return the [lo, hi] Hz band as a signal at about `rate` samples/s, and its exact rate.

        Zeroing bins and keeping only the low ones resamples without a separate filter: the
        band's content is all below the new Nyquist frequency, so nothing aliases.
        """
        rate = min(rate, self.fs)
        hi = min(hi, 0.43 * rate)  # its upper edge (1.15·hi) stays below the new Nyquist
        m = max(8, round(self.n * rate / self.fs))
        kept = self.coefficients[: m // 2 + 1] * _gain(self.n, self.fs, lo, hi, m // 2 + 1)
        return np.fft.irfft(kept, m) * (m / self.n), m * self.fs / self.n


@functools.lru_cache(maxsize=16)
def _mains_bins(n: int, fs: float) -> tuple[tuple[slice, np.ndarray], ...]:
    """The bins where mains hum lands below `USED_HZ` for this length and rate, and theirs
    neighbours (the notch, and the bins its level is judged against)."""
    resolution = fs / n
    width = max(1, round(MAINS_NOTCH_HZ / resolution))
    found = []
    for mains in MAINS_HZ:
        for harmonic in range(1, MAINS_HARMONICS + 1):
            f = (harmonic * mains) % fs
            f = min(f, fs - f)  # folded into 0..fs/2
            if not 0.5 <= f <= USED_HZ:
                continue  # at DC it goes with the mean; above, no estimator looks
            k = round(f / resolution)
            notch = slice(max(0, k - width), k + width + 1)
            around = np.r_[max(0, k - 4 * width):notch.start, notch.stop:k + 4 * width + 1]
            found.append((notch, around))
    return tuple(found)


@functools.lru_cache(maxsize=32)
def _gain(n: int, fs: float, lo: float, hi: float, bins: int) -> np.ndarray:
    """A pass band per FFT bin, with cosine edges from 0.75·lo up and to 1.15·hi down."""
    f = np.arange(bins) * fs / n
    rise = np.clip((f - 0.75 * lo) / (0.25 * lo), 0, 1)
    fall = np.clip((1.15 * hi - f) / (0.15 * hi), 0, 1)
    gain = 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))
    gain.flags.writeable = False  # shared by every window of this length
    return gain


@functools.lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    w = np.hanning(n)
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=16)
def _tukey(n: int, share: float = 0.1) -> np.ndarray:
    """A window flat in the middle with cosine ends over `share` of its length."""
    w = np.ones(n)
    edge = max(1, int(share * n / 2))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(edge) + 0.5) / edge)
    w[:edge], w[n - edge:] = ramp, ramp[::-1]
    w.flags.writeable = False  # shared by every window of this length
    return w


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Return the normalised autocorrelation of `x` (1 at lag 0), each lag unbiased."""
    n = len(x)
    spectrum = np.fft.rfft(x - x.mean(), 2 * n)
    r = np.fft.irfft(spectrum.real ** 2 + spectrum.imag ** 2, 2 * n)[:n]
    if r[0] <= 0:
        return np.zeros(n)
    # Unbiased: divide each lag by the number of products, so later peaks are not shrunk.
    return r / r[0] * n / np.arange(n, 0, -1)


def refine(y: np.ndarray, k: int) -> float:
    """Return the sub-sample position of the peak at index `k` (parabola through 3 points)."""
    if k <= 0 or k >= len(y) - 1:
        return float(k)
    a, b, c = y[k - 1], y[k], y[k + 1]
    denominator = a - 2 * b + c
    return float(k) if denominator >= 0 else k + 0.5 * float(a - c) / float(denominator)


def spectral_peak(x: np.ndarray, fs: float, lo: float, hi: float, name: str,
                  near_hz: float) -> View:
    """The strongest frequency in [lo, hi] Hz; strength is the band power within `near_hz`."""
    n = len(x)
    nfft = 1 << math.ceil(math.log2(4 * n))  # a finer grid; a parabola does the rest
    coefficients = np.fft.rfft((x - x.mean()) * _hann(n), nfft)
    power = coefficients.real ** 2 + coefficients.imag ** 2
    first, last = math.ceil(lo * nfft / fs), int(hi * nfft / fs)
    band = power[first:last + 1]
    total = float(band.sum())
    if len(band) < 3 or total <= 0:
        return View(name, 0.0, 0.0)
    k = int(np.argmax(band))
    hz = (first + refine(band, k)) * fs / nfft
    width = int(near_hz * nfft / fs)
    share = float(band[max(0, k - width):k + width + 1].sum()) / total
    return View(name, hz, share)


def power_ratio(x: np.ndarray, fs: float, hz: float, reference_hz: float,
                near_hz: float) -> float:
    """Return the strongest power within `near_hz` of `hz` over that near `reference_hz`."""
    n = len(x)
    nfft = 1 << math.ceil(math.log2(4 * n))
    coefficients = np.fft.rfft((x - x.mean()) * _hann(n), nfft)
    power = coefficients.real ** 2 + coefficients.imag ** 2
    width = max(1, int(near_hz * nfft / fs))

    def near(f: float) -> float:
        k = round(f * nfft / fs)
        return float(power[max(0, k - width):k + width + 1].max())

    reference = near(reference_hz)
    return near(hz) / reference if reference > 0 else 0.0


def acf_peak(r: np.ndarray, fs: float, lo: float, hi: float, name: str,
             repeat: float = 0.7) -> View:
    """The highest local maximum of an autocorrelation for periods of [lo, hi] Hz.

    When the peak at a half or a third of that lag is nearly as high (`repeat` of it), the
    rhythm is faster and the chosen peak is its second or third repeat: take the shorter
    period. (A search down to 30 bpm holds three beats of a heart at 90 bpm and more.)
    """
    first, last = max(1, int(fs / hi)), min(len(r) - 2, math.ceil(fs / lo))
    if last - first < 2:
        return View(name, 0.0, 0.0)
    seg = r[first - 1:last + 2]
    inner = seg[1:-1]
    maxima = np.flatnonzero((inner > seg[:-2]) & (inner >= seg[2:])) + first
    if len(maxima) == 0:
        return View(name, 0.0, 0.0)
    k = int(maxima[np.argmax(r[maxima])])
    shortened = True
    while shortened:  # a sixth of the lag is two steps: a half, then a third
        shortened = False
        for divisor in (2, 3):
            near = [m for m in maxima
                    if m < k and abs(m - k / divisor) <= max(1.0, 0.16 * k / divisor)]
            if near:
                h = max(near, key=lambda m: r[m])
                if r[h] >= repeat * r[k]:
                    k, shortened = int(h), True
                    break
    lag = refine(r, k)
    return View(name, fs / lag if lag > 0 else 0.0, float(np.clip(r[k], 0, 1)))


def harmonic(a: float, b: float, tolerance: float) -> bool:
    """Return True when `a` is about 2, 3, 1/2, 1/3, 3/2 or 2/3 times `b`."""
    if a <= 0 or b <= 0:
        return False
    ratio = a / b
    return any(abs(ratio / h - 1) <= tolerance for h in (2.0, 3.0, 0.5, 1 / 3, 1.5, 2 / 3))


def fuse(views: list[View], tolerance: float, noise: tuple[float, ...],
         evidence: float = EVIDENCE) -> Fused:
    """Accept a rate only when every view agrees with the others within `tolerance`.

    `noise` holds, per view, the strength it reaches on noise alone (99th percentile, no
    rhythm in it): every view must reach half of its level and the views together
    `evidence` times it, or the agreement may be chance. Views that disagree, or where one
    is a harmonic of another (the classic wrong answer of bed sensors), make the estimator
    abstain: a confident wrong rate feeds alarms and baselines, a missing one only lowers
    coverage.
    """
    rates = [v.hz for v in views]
    relative = [v.strength / level for v, level in zip(views, noise, strict=True)]
    weak = ", ".join(v.name for v, r in zip(views, relative, strict=True)
                     if v.hz <= 0 or r < 0.5)
    if weak:
        return Fused(None, 0.0, f"no clear rhythm ({weak})")
    if float(np.mean(relative)) < evidence:
        return Fused(None, 0.0, "rhythm too faint to tell from noise")
    centre = float(np.median(rates))
    spread = max(abs(r / centre - 1) for r in rates)
    if spread > tolerance:
        pairs = [(a, b) for i, a in enumerate(rates) for b in rates[i + 1:]]
        if any(harmonic(a, b, tolerance) for a, b in pairs):
            return Fused(None, 0.0, "views at harmonics of each other")
        return Fused(None, 0.0, "views disagree")
    # Quality is how closely the views agree: of everything measured, the closest predictor
    # of the error (checked on the real recording and on noisy simulated ones; the strengths
    # already had their say above).
    quality = 1 - spread / tolerance
    return Fused(float(np.mean(rates)), float(np.clip(quality, 0, 1)), "")
