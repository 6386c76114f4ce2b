"""A home's detectors, configured in the agent's TOML under `[detectors]` and wired to the
home's devices by id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edge.detectors.activity import ActivityConfig, ActivityDetector
from edge.detectors.baseline import BaselineConfig, BaselineDetector
from edge.detectors.bp import BpConfig, BpDetector
from edge.detectors.cardiorespiratory import (
    ApneaConfig,
    ApneaDetector,
    RateAlarmConfig,
    RateAlarmDetector,
    VitalsConfig,
    VitalsDetector,
)
from edge.detectors.mat import MatConfig, MatFallDetector
from edge.detectors.occupancy import OccupancyConfig, OccupancyDetector
from edge.detectors.sensor_faults import SensorFaultConfig, SensorFaultDetector
from edge.drivers.base import DeviceEvent, Reading, SampleBlock

Feed = Callable[[SampleBlock | Reading | DeviceEvent], list[Reading | DeviceEvent]]


class DetectorsConfig(BaseModel):
    """Every detector's settings for this resident; omitted sections take their defaults."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the detectors on this agent.")
    occupancy: OccupancyConfig = Field(default_factory=OccupancyConfig)
    vitals: VitalsConfig = Field(default_factory=VitalsConfig)
    apnea: ApneaConfig = Field(default_factory=ApneaConfig)
    rates: RateAlarmConfig = Field(default_factory=RateAlarmConfig)
    mat: MatConfig = Field(default_factory=MatConfig)
    activity: ActivityConfig = Field(default_factory=ActivityConfig)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    sensor_faults: SensorFaultConfig = Field(default_factory=SensorFaultConfig)
    bp: BpConfig = Field(default_factory=BpConfig)


def build(config: DetectorsConfig, devices: list[Any]) -> list[Feed]:
    """Return the detectors that the home's devices can feed, pointed at their device ids."""
    if not config.enabled:
        return []
    by_type: dict[str, list[str]] = {}
    for device in devices:
        by_type.setdefault(device.type, []).append(device.id)
    feeds: list[Feed] = []
    beds = by_type.get("bed_sensor", [])
    mats = by_type.get("fall_mat", [])
    radars = [d.id for d in devices if d.type == "radar" and getattr(d, "model", "") ==
              "mr60fda1"]
    if beds:
        bed = beds[0]
        feeds += [
            OccupancyDetector(config.occupancy.model_copy(update={"device": bed})).feed,
            VitalsDetector(config.vitals.model_copy(update={"device": bed})).feed,
            ApneaDetector(config.apnea.model_copy(update={"device": bed})).feed,
            RateAlarmDetector(config.rates).feed,
            BaselineDetector(config.baseline).feed,
            SensorFaultDetector(config.sensor_faults.model_copy(update={"device": bed})).feed,
        ]
    if mats or radars:
        feeds.append(MatFallDetector(config.mat.model_copy(update={
            "device": mats[0] if mats else config.mat.device,
            "radar": radars[0] if radars else None})).feed)
    if beds or mats:
        feeds.append(ActivityDetector(config.activity.model_copy(update={
            "bed": beds[0] if beds else config.activity.bed,
            "mat": mats[0] if mats else None})).feed)
    if "bp_cuff" in by_type:
        feeds.append(BpDetector(config.bp).feed)
    return feeds
