"""The bed board: load cells under the bed legs (HX711, 10 or 80 samples/s) and a piezo or
fibre strip under the mattress, streaming on the bedwatch framing (device type 0x20)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from edge.drivers.base import SerialDeviceConfig
from edge.drivers.sampled_board import Calibration, SampledBoardDriver
from edge.items import DriverItem, Observation

DEVICE_TYPE_BED = 0x20


class BedSensorConfig(SerialDeviceConfig):
    """A bed board on a serial port."""

    type: Literal["bed_sensor"] = Field(description="Driver type.")
    baudrate: int = Field(230400, gt=0, description="Serial speed of the board.")
    load_channels: list[int] = Field([0, 1, 2, 3], description="Channels that are load cells.")
    calibration: Calibration | None = Field(
        None, description="Overrides the calibration the board reports (kg and a.u.).")
    silent_after_s: float = Field(10.0, gt=0, description="Silence that raises device_silent.")


class BedSensorDriver(SampledBoardDriver):
    """Sample blocks for the detectors; a load reading a second for the desk."""

    config: BedSensorConfig
    device_type = DEVICE_TYPE_BED

    def summarise(self, t0: float, block: np.ndarray) -> list[DriverItem]:
        load = block[:, self.config.load_channels].sum(axis=1)
        return [Observation(self.device_id, "bed", t0, {
            "load_kg": round(float(load.mean()), 2),
            "load_sd_kg": round(float(load.std()), 3)})]
