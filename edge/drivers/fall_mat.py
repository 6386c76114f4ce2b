"""The pressure-grid floor mat beside the bed (e.g. 16×8 force-sensitive cells at 10–20 Hz),
streaming on the bedwatch framing (device type 0x30). Each sample is one frame of the grid,
row-major, in kPa. (A dry-contact mat is the `dry_contact` driver.)"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from edge.drivers.base import SerialDeviceConfig
from edge.drivers.sampled_board import Calibration, SampledBoardDriver
from edge.items import DriverItem, Observation

DEVICE_TYPE_MAT = 0x30
ACTIVE_KPA = 2.0  # a cell above this carries weight


class FallMatConfig(SerialDeviceConfig):
    """A pressure-grid mat on a serial port."""

    type: Literal["fall_mat"] = Field(description="Driver type.")
    baudrate: int = Field(115200, gt=0, description="Serial speed of the mat.")
    rows: int = Field(16, ge=1, le=64, description="Cell rows (along the bed).")
    cols: int = Field(8, ge=1, le=64, description="Cell columns.")
    calibration: Calibration | None = Field(None, description="Overrides the mat's calibration.")
    silent_after_s: float = Field(10.0, gt=0, description="Silence that raises device_silent.")


class FallMatDriver(SampledBoardDriver):
    """Grid frames for the fall detector; a contact summary a second for the desk."""

    config: FallMatConfig
    device_type = DEVICE_TYPE_MAT

    def summarise(self, t0: float, block: np.ndarray) -> list[DriverItem]:
        active = (block > ACTIVE_KPA).sum(axis=1)
        return [Observation(self.device_id, "mat", t0, {
            "active_cells": int(active.max()), "peak_kpa": round(float(block.max()), 1)})]
