"""Sensor faults of the bed board: a flat line, saturation, a disconnected load cell,
impossible values. They are `sensor_fault` events — never vital-sign alarms."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.items import DetectorInput, DetectorOutput, DeviceEvent, SampleBlock


class SensorFaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str = Field("bed", description="The bed board's device id.")
    load_channels: list[int] = Field([0, 1, 2, 3], description="Load-cell columns.")
    window_s: float = Field(10.0, gt=0, description="Span each check looks at.")
    max_leg_kg: float = Field(250.0, gt=0, description="More on one leg is saturation.")
    min_leg_kg: float = Field(1.0, description="Less than this on a leg (the bed's own weight "
                                               "is more): disconnected.")
    clear_s: float = Field(60.0, gt=0, description="Normal this long ends a fault.")


class SensorFaultDetector:
    def __init__(self, config: SensorFaultConfig | None = None) -> None:
        self.config = config or SensorFaultConfig()
        self._window: list[np.ndarray] = []
        self._count = 0
        self._open: dict[str, float] = {}  # fault -> last time seen

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        cfg = self.config
        if not isinstance(item, SampleBlock) or item.device != cfg.device:
            return []
        self._window.append(item.samples)
        self._count += len(item.samples)
        if self._count < cfg.window_s * item.fs:
            return []
        data = np.concatenate(self._window)
        self._window, self._count = [], 0
        t = item.t0 + len(item.samples) / item.fs
        found: dict[str, dict[str, object]] = {}
        for c in range(data.shape[1]):
            column = data[:, c]
            if not np.all(np.isfinite(column)):
                found[f"implausible:{c}"] = {"channel": c, "reason": "not a number"}
            elif np.ptp(column) == 0:
                found[f"flat:{c}"] = {"channel": c, "value": float(column[0])}
        for c in cfg.load_channels:
            column = data[:, c]
            if np.any(column >= cfg.max_leg_kg):
                found[f"saturated:{c}"] = {"channel": c, "max_kg": float(column.max())}
            elif float(np.median(column)) < cfg.min_leg_kg:
                found[f"disconnected:{c}"] = {"channel": c, "median_kg": float(np.median(column))}
        out: list[DetectorOutput] = []
        new = [key for key in found if key not in self._open]
        if new and not self._open:  # one event per episode, naming every fault in it
            out.append(DeviceEvent(cfg.device, "sensor_fault", t, {
                "faults": sorted(found), "evidence": list(found.values()),
                "window_s": cfg.window_s}, "low"))
        for key in found:
            self._open[key] = t
        if self._open and all(t - seen >= cfg.clear_s for seen in self._open.values()):
            out.append(DeviceEvent(cfg.device, "sensor_recovered", t,
                                   {"faults": sorted(self._open)}, "info"))
            self._open.clear()
        return out
