"""Falls on the floor mat: a body-sized contact that appears and stays.

Each grid frame is split into contact regions (4-neighbour connected cells above 2 kPa).
A lying body is one large region at low pressure (≥ `body_cells`); feet are small regions at
high pressure, a pet is several tiny paws, a dropped object one or two cells. A body region
that stays `confirm_s` is a `fall`; still there after `long_lie_s`, a `long_lie`. The radar's
fall and stationary-residence reports are fused in: a radar fall with no mat contact is still
reported (the radar may see a fall beside the mat), once.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.items import DetectorInput, DetectorOutput, DeviceEvent, SampleBlock

ACTIVE_KPA = 2.0


def largest_region(grid: np.ndarray) -> int:
    """Return the cell count of the largest 4-connected region of True cells."""
    seen = np.zeros_like(grid, dtype=bool)
    best = 0
    rows, cols = grid.shape
    for r0, c0 in zip(*np.nonzero(grid), strict=True):
        if seen[r0, c0]:
            continue
        stack, size = [(r0, c0)], 0
        seen[r0, c0] = True
        while stack:
            r, c = stack.pop()
            size += 1
            for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= rr < rows and 0 <= cc < cols and grid[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True
                    stack.append((rr, cc))
        best = max(best, size)
    return best


class MatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str = Field("floor-mat", description="The mat's device id.")
    radar: str | None = Field(None, description="A fall radar's device id, if one is fused in.")
    rows: int = Field(16, ge=1, description="Cell rows.")
    cols: int = Field(8, ge=1, description="Cell columns.")
    body_cells: int = Field(20, ge=4, description="A region this large is a body on the floor.")
    confirm_s: float = Field(3.0, ge=0, description="A body contact this long is a fall.")
    clear_s: float = Field(5.0, gt=0, description="No body this long ends the episode.")
    long_lie_s: float = Field(300.0, gt=0, description="On the floor this long: long_lie.")


class MatFallDetector:
    """Grid frames and radar reports in; `fall` and `long_lie` out."""

    def __init__(self, config: MatConfig | None = None) -> None:
        self.config = config or MatConfig()
        self._body_since: float | None = None
        self._last_body: float | None = None
        self._fell = False
        self._long = False
        self._last_fall_t = float("-inf")

    def _episode_over(self, t: float) -> None:
        self._body_since, self._fell, self._long = None, False, False

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        cfg = self.config
        if isinstance(item, DeviceEvent) and cfg.radar is not None and item.device == cfg.radar:
            return self._radar(item)
        if not isinstance(item, SampleBlock) or item.device != cfg.device:
            return []
        out: list[DetectorOutput] = []
        for i, frame in enumerate(item.samples):
            t = item.t0 + i / item.fs
            grid = frame.reshape(cfg.rows, cfg.cols) > ACTIVE_KPA
            region = largest_region(grid) if grid.sum() >= cfg.body_cells else 0
            if region >= cfg.body_cells:
                self._last_body = t
                if self._body_since is None:
                    self._body_since = t
                lying = t - self._body_since
                evidence = {"cells": region, "mean_kpa": round(float(frame[frame > ACTIVE_KPA]
                                                                     .mean()), 1),
                            "since": self._body_since, "lying_s": round(lying, 1)}
                if lying >= cfg.confirm_s and not self._fell:
                    self._fell = True
                    self._last_fall_t = t
                    out.append(DeviceEvent(cfg.device, "fall", t, {**evidence, "source": "mat"}))
                if lying >= cfg.long_lie_s and not self._long:
                    self._long = True
                    out.append(DeviceEvent(cfg.device, "long_lie", t, evidence))
            elif self._last_body is not None and t - self._last_body >= cfg.clear_s:
                self._last_body = None
                self._episode_over(t)
        return out

    def _radar(self, event: DeviceEvent) -> list[DetectorOutput]:
        if event.kind == "radar_fall" and event.t - self._last_fall_t > 60:
            self._last_fall_t = event.t
            on_mat = self._body_since is not None
            return [DeviceEvent(self.config.device, "fall", event.t, {
                "source": "radar", "radar": event.device, "mat_contact": on_mat})]
        if event.kind == "radar_stationary" and not self._long:
            self._long = True
            return [DeviceEvent(self.config.device, "long_lie", event.t, {
                "source": "radar", "radar": event.device})]
        return []
