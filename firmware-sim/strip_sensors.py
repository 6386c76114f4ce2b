"""The bed strip's sensor kinds: how each turns the force under the mattress into volts.

The body presses on the strip with its share of weight (DC), breathing, the heartbeat's
ballistocardiogram, movement and speech (kg, from `physiology.py`). Each kind of sensor sees
that force through its own transfer function and adds its own DC level, drift, noise and mains
hum; a 24-bit converter (2.5 V reference, the strip channel of the bed board) quantises the
result. Magnitudes are typical of each technology, not a model of one product:

- **load cell** (strain gauge, HX711-class amplifier ×128): flat from DC, the largest DC level
  (the bed's and the body's weight), the lowest noise, slow creep.
- **piezo film** (PVDF): a charge source read through a resistor, so a first-order high-pass
  at about 2 Hz; below it the output follows the *rate of change* of force (differentiating):
  no DC, breathing nearly gone, the heartbeat's bursts emphasised; high impedance picks up hum.
- **FSR strip** (force-sensing resistor in a divider): strongly nonlinear (conductance grows
  roughly with force^0.9, the divider saturates), high noise, creep of several per cent an hour.
- **EMFi** (electret ferroelectret film with a charge amplifier): high-pass at about 0.3 Hz,
  keeps breathing, no DC, moderate hum.
- **fibre-optic mat** (microbend): light falls as exp(−k·force), so a large DC photocurrent
  whose slow source drift multiplies the signal; shot noise.

Mains is 50 Hz (China). The converter's digital filter removes most of what lies above its
Nyquist frequency; what is left (1 %) folds back, as on a real board.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ADC_REF_V = 2.5
ADC_BITS = 24
LSB_V = ADC_REF_V / 2 ** (ADC_BITS - 1)  # volts per count of the strip channel
MAINS_HZ = 50.0
ANTI_ALIAS = 0.01  # what the converter's filter lets through above 0.45 × the sample rate


@dataclass(frozen=True)
class StripSensor:
    """One kind of strip sensor: transfer function, DC, drift, noise and hum."""

    name: str
    gain_v_per_kg: float  # small-signal sensitivity at the ADC input
    highpass_hz: float | None  # first-order high-pass corner (charge sources), None: from DC
    dc_v: float  # level at the ADC input with the resident lying still
    noise_v: float  # white noise floor, V rms
    drift_per_h: float  # slow drift: share of the signal (multiplicative) or of the DC
    hum_v: float  # 50 Hz mains pick-up amplitude
    compress: float = 0.0  # nonlinearity: 0 linear; FSR divider and microbend saturate

    def transfer(self, force_kg: np.ndarray, fs: float, rng: np.random.Generator
                 ) -> np.ndarray:
        """Return the volts at the converter's input for a force signal (kg) at `fs`."""
        x = np.asarray(force_kg, dtype=np.float64)
        n = len(x)
        t = np.arange(n) / fs
        if self.highpass_hz is not None:
            x = highpass(x, fs, self.highpass_hz)
            v = self.gain_v_per_kg * x
        elif self.compress > 0:
            # Saturating response around the working point: v = a·tanh(x / x0), with the small-
            # signal gain kept; a heavier resident sits further up the curve.
            span = 1.0 / self.compress
            v = self.dc_v + self.gain_v_per_kg * span * np.tanh((x - x.mean()) / span + 0.3)
        else:
            v = self.dc_v + self.gain_v_per_kg * (x - x.mean())
        hours = t / 3600.0
        # Drift: a slow random walk (creep, temperature, light source) on the scale of the
        # signal's own level.
        steps = rng.standard_normal(max(2, int(hours[-1] * 60) + 2)) if n else np.zeros(2)
        walk = np.interp(hours * 60, np.arange(len(steps)), np.cumsum(steps) / np.sqrt(60))
        level = abs(self.dc_v) if self.dc_v else 10 * self.noise_v
        v = v + self.drift_per_h * level * walk
        v = v + tone(t, fs, MAINS_HZ, self.hum_v, rng) + tone(t, fs, 3 * MAINS_HZ,
                                                              0.3 * self.hum_v, rng)
        return v + self.noise_v * rng.standard_normal(n)


SENSORS: dict[str, StripSensor] = {s.name: s for s in (
    StripSensor("load_cell", gain_v_per_kg=6.4e-3, highpass_hz=None, dc_v=0.35,
                noise_v=1.5e-5, drift_per_h=0.002, hum_v=2e-6),
    StripSensor("piezo_film", gain_v_per_kg=0.2, highpass_hz=2.0, dc_v=0.0,
                noise_v=1.0e-4, drift_per_h=0.0, hum_v=4e-3),
    StripSensor("fsr_strip", gain_v_per_kg=0.03, highpass_hz=None, dc_v=1.2,
                noise_v=6e-4, drift_per_h=0.04, hum_v=1e-4, compress=0.08),
    StripSensor("emfi", gain_v_per_kg=0.1, highpass_hz=0.3, dc_v=0.0,
                noise_v=6e-5, drift_per_h=0.0, hum_v=1e-3),
    StripSensor("fibre_optic", gain_v_per_kg=0.04, highpass_hz=None, dc_v=1.5,
                noise_v=2e-4, drift_per_h=0.02, hum_v=5e-5, compress=0.02),
)}


def highpass(x: np.ndarray, fs: float, corner_hz: float) -> np.ndarray:
    """First-order high-pass H(f) = jf/fc / (1 + jf/fc), applied in the frequency domain.

    The signal is mirrored first so that its two ends meet without a jump.
    """
    n = len(x)
    if n == 0:
        return x
    mirrored = np.concatenate([x, x[::-1]])
    f = np.fft.rfftfreq(2 * n, 1 / fs)
    ratio = 1j * f / corner_hz
    return np.fft.irfft(np.fft.rfft(mirrored - mirrored.mean()) * ratio / (1 + ratio),
                        2 * n)[:n]


def passed(freq_hz: float, fs: float) -> float:
    """Return how much of a tone at `freq_hz` survives the converter's anti-alias filter."""
    return 1.0 if freq_hz < 0.45 * fs else ANTI_ALIAS


def tone(t: np.ndarray, fs: float, freq_hz: float, amplitude: float,
         rng: np.random.Generator) -> np.ndarray:
    """A sine at `freq_hz` as the converter samples it (folded back above Nyquist)."""
    if amplitude == 0:
        return np.zeros(len(t))
    phase = float(rng.uniform(0, 2 * np.pi))
    return amplitude * passed(freq_hz, fs) * np.sin(2 * np.pi * freq_hz * t + phase)


def quantise(volts: np.ndarray) -> np.ndarray:
    """Return the converter's counts (24-bit two's complement, clipped at full scale)."""
    top = 2 ** (ADC_BITS - 1) - 1
    return np.clip(np.round(volts / LSB_V), -top - 1, top).astype(np.int64)


def speech(n: int, fs: float, rng: np.random.Generator, level_kg: float = 0.04) -> np.ndarray:
    """Force of a person talking while lying: voice-band chest vibration in syllables.

    Voiced sound (fundamental 100–250 Hz, a few harmonics) comes in syllables of 0.1–0.3 s,
    three to six a second, in phrases of one to four seconds with pauses; each syllable also
    jolts the trunk (energy at the syllable rate, right in the heartbeat's band).
    """
    t = np.arange(n) / fs
    envelope = np.zeros(n)
    at = float(rng.uniform(0, 0.5))
    while n and at < t[-1]:
        phrase_end = at + float(rng.uniform(1.0, 4.0))
        while at < phrase_end:
            length = float(rng.uniform(0.1, 0.3))
            i0, i1 = int(at * fs), min(n, int((at + length) * fs))
            if i1 > i0:
                envelope[i0:i1] = np.maximum(envelope[i0:i1],
                                             np.sin(np.linspace(0, np.pi, i1 - i0)))
            at += 1 / float(rng.uniform(3.0, 6.0))
        at += float(rng.uniform(0.5, 2.0))
    f0 = float(rng.uniform(100, 250))
    voiced = sum(tone(t, fs, k * f0, 1.0 / k, rng) for k in (1, 2, 3))
    jolt = highpass(envelope, fs, 1.0)
    return level_kg * (envelope * voiced + 1.5 * jolt)


def fidgets(n: int, fs: float, rng: np.random.Generator, every_s: float = 5.0,
            level_kg: float = 0.3) -> np.ndarray:
    """Force of small movements while lying (a hand, a foot, scratching): short broadband bursts
    every few seconds."""
    out = np.zeros(n)
    at = float(rng.uniform(0, every_s))
    while at * fs < n:
        length = int(float(rng.uniform(0.3, 1.2)) * fs)
        i0 = int(at * fs)
        burst = rng.standard_normal(length) * np.hanning(length)
        # Mostly below 15 Hz: a limb moves, it does not ring.
        smooth = max(1, int(fs / 30))
        burst = np.convolve(burst, np.ones(smooth) / smooth, mode="same")
        seg = out[i0:i0 + length]
        seg += level_kg * float(rng.uniform(0.3, 1.0)) * burst[:len(seg)] / \
            (np.abs(burst).max() + 1e-12)
        at += float(rng.exponential(every_s))
    return out
