"""Inactivity in the day, and repositioning reminders for bed-bound residents.

`inactivity`: nothing moved anywhere (bed, mat, buttons, any device event) for
`inactivity_s` within the daytime hours. `reposition_due`: a bed-bound resident lying in bed
with no major movement for `reposition_s` (2 h by default: pressure-injury prevention).
"""

from __future__ import annotations

from datetime import tzinfo

from pydantic import BaseModel, ConfigDict, Field

from bedwatch.kinds import NOT_ACTIVITY
from edge.detectors.localtime import DEFAULT_ZONE, local
from edge.detectors.occupancy import IN_BED
from edge.items import DetectorInput, DetectorOutput, DeviceEvent, Observation


class ActivityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bed: str = Field("bed", description="The bed board's device id.")
    mat: str | None = Field("floor-mat", description="The floor mat's device id, if any.")
    inactivity_s: float = Field(4 * 3600.0, gt=0, description="Daytime stillness that is "
                                                              "reported.")
    day_start_h: float = Field(8.0, ge=0, lt=24, description="Daytime starts (local).")
    day_end_h: float = Field(20.0, ge=0, lt=24, description="Daytime ends (local).")
    bed_bound: bool = Field(False, description="Remind caregivers to reposition the resident.")
    reposition_s: float = Field(7200.0, gt=0, description="Lying still this long: reposition.")
    movement_kg: float = Field(2.0, gt=0, description="Load shift between legs that counts "
                                                      "as a major movement.")


class ActivityDetector:
    def __init__(self, config: ActivityConfig | None = None, tz: tzinfo = DEFAULT_ZONE) -> None:
        self.config = config or ActivityConfig()
        self.tz = tz
        self._last_activity: float | None = None
        self._inactive_reported = False
        self._in_bed = False
        self._still_since: float | None = None
        self._reminded = False
        self._legs: list[float] | None = None

    def _daytime(self, t: float) -> bool:
        now = local(t, self.tz)
        h = now.hour + now.minute / 60
        return self.config.day_start_h <= h < self.config.day_end_h

    def _active(self, t: float) -> None:
        self._last_activity = t
        self._inactive_reported = False

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        cfg = self.config
        out: list[DetectorOutput] = []
        if isinstance(item, DeviceEvent):
            if item.kind not in NOT_ACTIVITY:
                self._active(item.t)
            return out
        if isinstance(item, Observation):
            if item.kind == "occupancy" and item.device == cfg.bed:
                self._in_bed = item.fields.get("state") == IN_BED
                self._still_since, self._reminded = (item.t, False) if self._in_bed else \
                    (None, False)
                self._active(item.t)
            return out
        t = item.t0 + len(item.samples) / item.fs
        if self._last_activity is None:
            self._last_activity = item.t0
        if item.device == cfg.mat and float(item.samples.max()) > 2.0:
            self._active(t)
        elif item.device == cfg.bed:
            # A sample a block is plenty for shifts of kilograms; four numbers are cheaper
            # as Python floats than as an array.
            legs: list[float] = item.samples[0, :4].tolist()
            smooth = self._legs
            if smooth is None:
                self._legs = legs
            else:
                if max(abs(a - b) for a, b in zip(legs, smooth, strict=True)) > \
                        cfg.movement_kg / 2:
                    self._active(t)
                    if self._in_bed:
                        self._still_since, self._reminded = t, False
                self._legs = [0.9 * b + 0.1 * a for a, b in zip(legs, smooth, strict=True)]
        if not self._inactive_reported and t - self._last_activity >= cfg.inactivity_s and \
                self._daytime(t):
            self._inactive_reported = True
            out.append(DeviceEvent(cfg.bed, "inactivity", t, {
                "still_s": round(t - self._last_activity), "limit_s": cfg.inactivity_s}))
        if cfg.bed_bound and self._in_bed and self._still_since is not None and \
                not self._reminded and t - self._still_since >= cfg.reposition_s:
            self._reminded = True
            out.append(DeviceEvent(cfg.bed, "reposition_due", t, {
                "still_s": round(t - self._still_since), "limit_s": cfg.reposition_s}, "low"))
        return out
