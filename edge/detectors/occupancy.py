"""In bed, sitting on the edge, out of bed — from the four load cells under the bed legs.

Bed exit is reported within about a second of the weight leaving. A visitor who sits on the
bed and leaves is not a bed exit: an exit needs the resident to have lain in the bed first,
with about their own weight. A resident who got up in the night and is not back in time may
have fallen out of sight (`not_returned`); one still in bed late in the morning is
`not_up_by`. Time comes only with the samples.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, tzinfo

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.detectors import localtime
from edge.items import DetectorInput, DetectorOutput, DeviceEvent, Observation, SampleBlock

OUT, IN_BED, EDGE, OTHER = "out", "in_bed", "sitting_edge", "other"


def sorted_median(ordered: list[float]) -> float:
    """Median of values already in order."""
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _median(values: list[float]) -> float:
    return sorted_median(sorted(values))


def in_hours(hour: float, start: float, end: float) -> bool:
    """Whether a local hour of the day lies in [start, end), which may span midnight."""
    return (hour >= start or hour < end) if start > end else (start <= hour < end)


def _row_medians(rows: np.ndarray) -> list[float]:
    """Median of each row; `np.partition` directly, as `np.median` costs tens of µs a call."""
    n = rows.shape[1]
    mid = n // 2
    if n % 2:
        return np.partition(rows, mid, axis=1)[:, mid].tolist()
    part = np.partition(rows, (mid - 1, mid), axis=1)
    return ((part[:, mid - 1] + part[:, mid]) / 2).tolist()


class OccupancyConfig(BaseModel):
    """Thresholds for one resident's bed."""

    model_config = ConfigDict(extra="forbid")

    device: str = Field("bed", description="The bed board's device id.")
    load_channels: list[int] = Field(
        [0, 1, 2, 3], min_length=4, max_length=4,
        description="Load-cell columns, legs in order: head-left, head-right, foot-left, "
                    "foot-right.")
    resident_weight_kg: float = Field(60.0, gt=20, description="The resident's weight.")
    tare_kg: float | None = Field(None, description="Empty bed; learned when not given.")
    weight_tolerance: float = Field(0.3, gt=0, lt=1, description="Lying weight within this "
                                    "share of the resident's weight counts as the resident.")
    out_below: float = Field(0.3, gt=0, lt=1, description="Below this share of the resident's "
                                                          "weight the bed is empty.")
    edge_share: float = Field(0.8, gt=0.5, lt=1, description="Weight share on one side that "
                                                             "means sitting on the edge.")
    decide_s: float = Field(0.5, gt=0, description="Length of each decision step.")
    night_start_h: float = Field(22.0, ge=0, lt=24, description="Night hours start (local).")
    night_end_h: float = Field(6.0, ge=0, lt=24, description="Night hours end (local).")
    not_returned_s: float = Field(1200.0, gt=0, description="Out of bed at night this long: "
                                                            "not_returned.")
    not_up_by_h: float | None = Field(9.5, ge=0, lt=24, description="Still in bed at this "
                                      "local hour: not_up_by (None: off).")


class OccupancyDetector:
    """State in, sample blocks in, `occupancy` readings and bed events out."""

    def __init__(self, config: OccupancyConfig | None = None,
                 tz: tzinfo = localtime.DEFAULT_ZONE) -> None:
        self.config = config or OccupancyConfig()
        self.tz = tz
        self.state = OUT
        self.tare: float | None = self.config.tare_kg
        self.weight = self.config.resident_weight_kg
        self._buffer: list[np.ndarray] = []
        self._buffer_t: float | None = None
        self._recent: deque[tuple[float, float, float]] = deque(maxlen=4)  # t, load, side
        self._resident_lay = False
        self._exit_t: float | None = None
        self._not_returned_sent = False
        self._not_up_day: str | None = None
        self._tare_window: deque[float] = deque(maxlen=20)
        self._last_exit: float | None = None
        self._pending: list[np.ndarray] = []
        legs = self.config.load_channels
        # Adjacent columns are a slice: a view of the block instead of a copy.
        self._columns: slice | list[int] = (
            slice(legs[0], legs[-1] + 1) if legs == list(range(legs[0], legs[0] + len(legs)))
            else legs)
        self._pending_count = 0
        self._pending_t0 = 0.0
        self._pending_fs = 0.0

    def _local(self, t: float) -> datetime:
        return localtime.local(t, self.tz)

    def _is_night(self, t: float) -> bool:
        local = self._local(t)
        return in_hours(local.hour + local.minute / 60, self.config.night_start_h,
                        self.config.night_end_h)

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        if not isinstance(item, SampleBlock) or item.device != self.config.device:
            return []
        out: list[DetectorOutput] = []
        step = max(1, round(self.config.decide_s * item.fs))
        fresh = item.samples[:, self._columns]
        # A block that does not follow the carried samples (a gap, a reconnect, a re-anchored
        # clock) starts afresh: decisions after it carry its time, not the time before.
        expected_t0 = self._pending_t0 + self._pending_count / item.fs
        follows = abs(item.t0 - expected_t0) < 0.5 / item.fs
        if not self._pending or self._pending_fs != item.fs or not follows:
            self._pending, self._pending_count = [], 0
            self._pending_t0, self._pending_fs = item.t0, item.fs
        # Carry samples over: decisions need whole steps, blocks may be shorter. Joined only
        # once a step is complete.
        self._pending.append(fresh)
        self._pending_count += len(fresh)
        if self._pending_count < step:
            return out
        legs = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        t0 = self._pending_t0
        whole = len(legs) // step * step
        # One median per decision step, for all whole steps at once.
        shaped = legs[:whole].reshape(-1, step, legs.shape[1])
        totals = _row_medians(shaped.sum(axis=2))
        rights = _row_medians(shaped[:, :, 1] + shaped[:, :, 3])
        for k, (total, right) in enumerate(zip(totals, rights, strict=True)):
            out += self._decide(t0 + (k + 1) * step / item.fs, total, right)
        rest = legs[whole:]
        self._pending, self._pending_count = ([rest] if len(rest) else []), len(rest)
        self._pending_t0 = t0 + whole / item.fs
        return out

    def _decide(self, t: float, total: float, right_total: float
                ) -> list[DetectorOutput]:
        cfg = self.config
        if self.tare is None:
            self.tare = total  # the bed is taken to be empty when watching starts
        load = total - self.tare
        right = right_total - self.tare / 2
        side = abs(right / load - 0.5) + 0.5 if load > 1 else 0.5
        self._recent.append((t, load, side))
        load = _median([r[1] for r in self._recent])
        side = _median([r[2] for r in self._recent])
        w = self.weight
        if load < cfg.out_below * w:
            state = OUT
            self._tare_window.append(total)
            if len(self._tare_window) == self._tare_window.maxlen and \
                    max(self._tare_window) - min(self._tare_window) < 0.5 and \
                    abs(total - self.tare) < 5:
                self.tare += 0.05 * (_median(list(self._tare_window)) - self.tare)
        elif side >= cfg.edge_share:
            state = EDGE
        elif abs(load - w) <= cfg.weight_tolerance * w:
            state = IN_BED
        else:
            state = OTHER
        out: list[DetectorOutput] = []
        if state != self.state:
            previous, self.state = self.state, state
            out.append(Observation(cfg.device, "occupancy", t, {"state": state,
                                                                 "load_kg": round(load, 1)}))
            if state == IN_BED:
                self._resident_lay = True
                if self._exit_t is not None:
                    out.append(DeviceEvent(cfg.device, "bed_return", t,
                                           {"away_s": round(t - self._exit_t, 1)}))
                self._exit_t, self._not_returned_sent = None, False
            elif state == OUT and self._resident_lay and previous in (IN_BED, EDGE, OTHER):
                self._resident_lay = False
                self._exit_t = self._last_exit = t
                out.append(DeviceEvent(cfg.device, "bed_exit", t, {
                    "from": previous, "load_kg": round(load, 1), "night": self._is_night(t)}))
        if state == IN_BED and abs(load - w) < 0.1 * w:
            self.weight += 0.001 * (load - w)  # follow the resident's weight slowly
        if self._exit_t is not None and not self._not_returned_sent and state != IN_BED and \
                self._is_night(self._exit_t) and t - self._exit_t >= cfg.not_returned_s:
            self._not_returned_sent = True
            out.append(DeviceEvent(cfg.device, "not_returned", t, {
                "left_at": self._exit_t, "away_s": round(t - self._exit_t, 1),
                "limit_s": cfg.not_returned_s}))
        if cfg.not_up_by_h is not None and state == IN_BED:
            local = self._local(t)
            day = local.date().isoformat()
            night_end = local.replace(hour=int(cfg.night_end_h), minute=0, second=0,
                                      microsecond=0)
            up_since_night = self._last_exit is not None and \
                self._local(self._last_exit) >= night_end
            if local.hour + local.minute / 60 >= cfg.not_up_by_h and self._not_up_day != day \
                    and local.hour < 12 and not up_since_night:
                self._not_up_day = day
                out.append(DeviceEvent(cfg.device, "not_up_by", t, {
                    "local_time": local.strftime("%H:%M"), "limit_h": cfg.not_up_by_h}))
        return out
