"""Each resident's own night: usual heart and breathing rate and bedtime, learned over the
first `learn_nights` nights; a night that drifts beyond the resident's own range is a
low-severity `trend`, so the family doctor hears early."""

from __future__ import annotations

from datetime import timedelta, tzinfo

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.detectors.localtime import DEFAULT_ZONE, local
from edge.detectors.occupancy import IN_BED
from edge.items import DetectorInput, DetectorOutput, DeviceEvent, Observation

MEASURES = ("heart_rate_bpm", "breathing_rate_bpm")


class BaselineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learn_nights: int = Field(14, ge=3, description="Nights learned before judging.")
    sigmas: float = Field(3.0, gt=0, description="Drift beyond this many SDs is a trend.")
    min_drift: dict[str, float] = Field(
        {"heart_rate_bpm": 6.0, "breathing_rate_bpm": 3.0, "bedtime_h": 1.5},
        description="Smallest drift reported, per measure.")
    min_windows: int = Field(20, ge=1, description="Vitals windows a night needs to count.")


class BaselineDetector:
    """Nightly means in; `trend` events out once a night is complete."""

    def __init__(self, config: BaselineConfig | None = None, tz: tzinfo = DEFAULT_ZONE) -> None:
        self.config = config or BaselineConfig()
        self.tz = tz
        self.history: dict[str, list[float]] = {m: [] for m in (*MEASURES, "bedtime_h")}
        self._night: str | None = None
        self._values: dict[str, list[float]] = {m: [] for m in MEASURES}
        self._bedtime: float | None = None

    def _night_of(self, t: float) -> tuple[str, float]:
        # A night belongs to the evening it starts on: shift by 12 h.
        now = local(t, self.tz)
        hours = (now.hour + now.minute / 60 - 12) % 24  # noon 0 … next noon 24
        return (now - timedelta(hours=12)).date().isoformat(), hours

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        if not isinstance(item, Observation):
            return []
        night, hours = self._night_of(item.t)
        out: list[DetectorOutput] = []
        if night != self._night:
            if self._night is not None:
                out = self._close(item.device, item.t)
            self._night = night
            self._values = {m: [] for m in MEASURES}
            self._bedtime = None
        if item.kind == "occupancy" and item.fields.get("state") == IN_BED and \
                self._bedtime is None and hours >= 6:  # from 18:00 local
            self._bedtime = hours
        if item.kind == "vitals":
            for m in MEASURES:
                value = item.fields.get(m)
                if isinstance(value, (int, float)):
                    self._values[m].append(float(value))
        return out

    def _close(self, device: str, t: float) -> list[DetectorOutput]:
        tonight: dict[str, float] = {m: float(np.median(v)) for m, v in self._values.items()
                                     if len(v) >= self.config.min_windows}
        if self._bedtime is not None:
            tonight["bedtime_h"] = self._bedtime
        out: list[DetectorOutput] = []
        for measure, value in tonight.items():
            past = self.history[measure]
            if len(past) >= self.config.learn_nights:
                mean, sd = float(np.mean(past)), float(np.std(past))
                limit = max(self.config.sigmas * sd, self.config.min_drift.get(measure, 0.0))
                if abs(value - mean) > limit:
                    out.append(DeviceEvent(device, "trend", t, {
                        "measure": measure, "night": self._night, "value": round(value, 1),
                        "usual": round(mean, 1), "usual_sd": round(sd, 2)}, "low"))
                    continue  # an unusual night does not teach the baseline
            past.append(value)
            del past[:-60]  # the last two months
        return out
