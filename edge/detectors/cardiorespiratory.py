"""Breathing and heart events while the resident lies in bed.

- `VitalsDetector`: heart and breathing rate (`edge.detectors.bcg.estimate_rates`) every
  `step_s` over the last `window_s` of the bed strip, only while the resident lies in bed.
- `ApneaDetector`: breathing-band amplitude of the strip, second by second, against the
  resident's own amplitude over the last minutes; `apnea` when it stays below a fraction of it
  for `apnea_s` (20 s by default) while in bed.
- `RateAlarmDetector`: bradycardia, tachycardia, bradypnea, tachypnea from `vitals` readings,
  each only after `persistence` windows in a row — never from one noisy window — and each
  rate trusted by its own quality (`heart_quality`, `breathing_quality`); once per episode,
  however many windows inside it the estimator abstained on.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.detectors.bcg import RR_BAND_HZ, bandpass, estimate_rates
from edge.detectors.occupancy import IN_BED, sorted_median
from edge.items import DetectorInput, DetectorOutput, DeviceEvent, Observation, SampleBlock


class _Strip:
    """The last seconds of one channel of the bed board, and whether the resident lies in bed."""

    def __init__(self, device: str, channel: int, keep_s: float) -> None:
        self.device, self.channel, self.keep_s = device, channel, keep_s
        self.samples: deque[np.ndarray] = deque()
        self.count = 0
        self.fs = 0.0
        self.t_end = 0.0
        self.in_bed_since: float | None = None

    def update(self, item: DetectorInput) -> bool:
        """Take a block or an occupancy reading; return True for a new block of this bed."""
        if isinstance(item, Observation) and item.kind == "occupancy" and \
                item.device == self.device:
            lying = item.fields.get("state") == IN_BED
            self.in_bed_since = (self.in_bed_since or item.t) if lying else None
            return False
        if not isinstance(item, SampleBlock) or item.device != self.device:
            return False
        self.fs = item.fs
        column = item.samples[:, self.channel]
        self.samples.append(column)
        self.count += len(column)
        self.t_end = item.t0 + len(column) / item.fs
        while self.count - len(self.samples[0]) >= self.keep_s * self.fs:
            self.count -= len(self.samples.popleft())
        return True

    def last(self, seconds: float) -> np.ndarray:
        data = np.concatenate(self.samples) if self.samples else np.zeros(0)
        return data[-int(seconds * self.fs):] if self.fs else data

    def lying_for(self) -> float:
        return 0.0 if self.in_bed_since is None else self.t_end - self.in_bed_since


class VitalsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str = Field("bed", description="The bed board's device id.")
    channel: int = Field(4, ge=0, description="The strip's column in the bed board's samples.")
    window_s: float = Field(30.0, ge=10, le=60, description="Window of each estimate.")
    step_s: float = Field(30.0, gt=0, description="How often to estimate.")


class VitalsDetector:
    """`vitals` readings (heart and breathing rate, quality) while the resident lies still."""

    def __init__(self, config: VitalsConfig | None = None) -> None:
        self.config = config or VitalsConfig()
        self._strip = _Strip(self.config.device, self.config.channel, self.config.window_s + 1)
        self._next = 0.0

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        strip = self._strip
        if not strip.update(item) or strip.lying_for() < self.config.window_s:
            return []
        if strip.t_end < self._next:
            return []
        self._next = strip.t_end + self.config.step_s
        rates = estimate_rates(strip.last(self.config.window_s), strip.fs)
        fields: dict[str, bool | int | float | str] = {"quality": rates.quality}
        if rates.heart_rate_bpm is not None:
            fields["heart_rate_bpm"] = rates.heart_rate_bpm
            fields["heart_quality"] = rates.heart_quality
        if rates.breathing_rate_bpm is not None:
            fields["breathing_rate_bpm"] = rates.breathing_rate_bpm
            fields["breathing_quality"] = rates.breathing_quality
        if len(fields) == 1:
            return []  # movement: nothing trustworthy in this window
        return [Observation(self.config.device, "vitals", strip.t_end, fields)]


class ApneaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str = Field("bed", description="The bed board's device id.")
    channel: int = Field(4, ge=0, description="The strip's column.")
    apnea_s: float = Field(20.0, ge=10, description="No breathing this long is an apnea.")
    fraction: float = Field(0.25, gt=0, lt=1, description="Breathing amplitude below this "
                                                          "share of the resident's own is none.")
    reference_s: float = Field(300.0, ge=60, description="Span of the resident's own "
                                                         "breathing amplitude.")


class ApneaDetector:
    """`apnea` when the breathing band goes quiet for `apnea_s` while the resident lies in bed."""

    def __init__(self, config: ApneaConfig | None = None) -> None:
        self.config = config or ApneaConfig()
        self._strip = _Strip(self.config.device, self.config.channel, 12.0)
        self._amplitudes: deque[float] = deque()
        self._ordered: list[float] = []  # the same amplitudes, sorted, for their median
        self._quiet_since: float | None = None
        self._reported = False
        self._next = 0.0

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        strip = self._strip
        if not strip.update(item):
            if strip.in_bed_since is None:
                self._quiet_since, self._reported = None, False
            return []
        if strip.t_end < self._next or strip.lying_for() < 12:
            return []
        self._next = strip.t_end + 1.0
        window = strip.last(12.0)
        if np.ptp(window[-int(5 * strip.fs):]) == 0:
            return []  # a flat line is a sensor fault, never an apnea
        breath = bandpass(window, strip.fs, *RR_BAND_HZ)
        # The last 5 s: quick enough to catch a stop, long enough to span a slow breath.
        amplitude = float(np.sqrt(np.mean(breath[-int(5 * strip.fs):] ** 2)))
        if not math.isfinite(amplitude):
            return []  # not a number in the window: a sensor fault, reported elsewhere
        size = int(self.config.reference_s)
        reference = sorted_median(self._ordered) if len(self._ordered) >= 30 else None
        quiet = reference is not None and amplitude < self.config.fraction * reference
        if not quiet:
            self._amplitudes.append(amplitude)
            bisect.insort(self._ordered, amplitude)
            while len(self._amplitudes) > size:
                old = self._amplitudes.popleft()
                del self._ordered[bisect.bisect_left(self._ordered, old)]
            self._quiet_since, self._reported = None, False
            return []
        assert reference is not None
        if self._quiet_since is None:
            self._quiet_since = strip.t_end - 5.0  # the quiet began with the 5-s window
        duration = strip.t_end - self._quiet_since
        if duration >= self.config.apnea_s and not self._reported:
            self._reported = True
            return [DeviceEvent(self.config.device, "apnea", strip.t_end, {
                "duration_s": round(duration, 1), "amplitude": round(amplitude, 4),
                "usual_amplitude": round(reference, 4), "since": self._quiet_since})]
        return []


class RateAlarmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bradycardia_below: float = Field(45.0, gt=0, description="Heart rate below this, bpm.")
    tachycardia_above: float = Field(120.0, gt=0, description="Heart rate above this, bpm.")
    bradypnea_below: float = Field(8.0, gt=0, description="Breathing below this, per minute.")
    tachypnea_above: float = Field(28.0, gt=0, description="Breathing above this, per minute.")
    persistence: int = Field(3, ge=1, description="Windows beyond a threshold in a row before "
                                                  "an event (windows without that rate are "
                                                  "not counted either way).")
    recovery: int = Field(3, ge=1, description="Windows with the rate back within its "
                                               "thresholds, in a row, that end an episode.")
    vitals_max_age_s: float = Field(600.0, gt=0, description="A rate not measured for this "
                                    "long is forgotten: its streak and its episode end.")
    min_quality: float = Field(0.3, ge=0, le=1, description="Ignore windows of lower quality.")


# Which rate each alarm watches.
_MEASURE = {"bradycardia": "heart", "tachycardia": "heart", "bradypnea": "breathing",
            "tachypnea": "breathing"}


@dataclass
class _Episode:
    """One alarm kind's evidence: windows beyond and back within, and whether it was raised."""

    beyond: int = 0  # windows with the rate beyond the threshold, in a row
    within: int = 0  # windows with the rate back within it, in a row
    open: bool = False  # raised, and not over yet
    seen: float | None = None  # time of the last window that measured the rate


class RateAlarmDetector:
    """Per-resident rate thresholds with persistence; one event per episode.

    A window where the estimator abstained on a rate (movement, talking, views that did not
    agree, or too low a quality) says nothing about that rate: it neither counts towards an
    episode nor ends one. An episode ends after `recovery` windows with the rate measured
    back within its thresholds, or when the rate has not been measured for
    `vitals_max_age_s` (the resident left the bed, or the sensor lost the beat for long):
    what is measured after that is a new episode.
    """

    def __init__(self, config: RateAlarmConfig | None = None) -> None:
        self.config = config or RateAlarmConfig()
        self._episodes = {kind: _Episode() for kind in _MEASURE}

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        if not isinstance(item, Observation) or item.kind != "vitals":
            return []
        cfg = self.config
        # Each rate counts only with its own quality (readings without one: the window's).
        hr = self._trusted(item, "heart_rate_bpm", "heart_quality")
        rr = self._trusted(item, "breathing_rate_bpm", "breathing_quality")
        measured = {"heart": hr, "breathing": rr}
        limits = {"bradycardia": lambda v: v < cfg.bradycardia_below,
                  "tachycardia": lambda v: v > cfg.tachycardia_above,
                  "bradypnea": lambda v: v < cfg.bradypnea_below,
                  "tachypnea": lambda v: v > cfg.tachypnea_above}
        out: list[DetectorOutput] = []
        for kind, episode in self._episodes.items():
            if episode.seen is not None and item.t - episode.seen > cfg.vitals_max_age_s:
                self._episodes[kind] = episode = _Episode()
            value = measured[_MEASURE[kind]]
            if value is None:
                continue  # abstained on this rate: hold
            episode.seen = item.t
            if not limits[kind](value):
                episode.beyond, episode.within = 0, episode.within + 1
                if episode.within >= cfg.recovery:
                    episode.open = False
                continue
            episode.beyond, episode.within = episode.beyond + 1, 0
            if episode.beyond >= cfg.persistence and not episode.open:
                episode.open = True
                out.append(DeviceEvent(item.device, kind, item.t, {
                    "heart_rate_bpm": hr, "breathing_rate_bpm": rr,
                    "windows": episode.beyond}, "high"))
        return out

    def _trusted(self, item: Observation, rate: str, quality: str) -> float | None:
        value = item.fields.get(rate)
        level = item.fields.get(quality, item.fields.get("quality", 0))
        if not isinstance(value, (int, float)) or not isinstance(level, (int, float)):
            return None
        if isinstance(value, bool) or value <= 0:
            return None  # a 0 is "no value", never a measured rate
        return float(value) if level >= self.config.min_quality else None
