"""Which detectors a home runs, and which of its devices feed each.

The settings live in the agent's TOML under `[detectors]`. A detector is a row of `DETECTORS`:
its key there, the device roles it runs on (bed board, floor mat, fall radar, cuff), which of
its settings name a device of which role, and its factory. A device a user
names in `[detectors.<key>]` is kept; one that names no configured device of that role is a
config error naming the key. A setting left out gets the first device of its role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bedwatch.configfile import ConfigError
from edge.detectors import localtime
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
from edge.detectors.news2 import News2Config, News2Detector
from edge.detectors.occupancy import OccupancyConfig, OccupancyDetector
from edge.detectors.sensor_faults import SensorFaultConfig, SensorFaultDetector
from edge.items import DetectorInput, DetectorOutput

Feed = Callable[[DetectorInput], list[DetectorOutput]]


@dataclass(frozen=True, slots=True)
class Role:
    """A part a device plays for the detectors, told from its config."""

    name: str
    matches: Callable[[Any], bool]


BED_BOARD = Role("bed board", lambda d: d.type == "bed_sensor")
FLOOR_MAT = Role("floor mat", lambda d: d.type == "fall_mat")
# Only the MR60FDA1 reports falls; the MR60BHA1 measures breathing and heart rate.
FALL_RADAR = Role("fall radar", lambda d: d.type == "radar" and
                  getattr(d, "model", "") == "mr60fda1")
CUFF = Role("blood-pressure cuff", lambda d: d.type == "bp_cuff")


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """One detector: where its settings are, what it runs on, how it is made."""

    key: str  # its section under [detectors]
    runs_on: tuple[Role, ...]  # built when the home has a device of any of these roles
    devices: Mapping[str, Role]  # settings that name a device, and the role that device plays
    factory: Callable[[Any, tzinfo], Feed]  # (its settings, the resident's time zone)
    optional: tuple[str, ...] = ()  # device settings left empty when the home has none


DETECTORS: tuple[DetectorSpec, ...] = (
    DetectorSpec("occupancy", (BED_BOARD,), {"device": BED_BOARD},
                 lambda c, tz: OccupancyDetector(c, tz).feed),
    DetectorSpec("vitals", (BED_BOARD,), {"device": BED_BOARD},
                 lambda c, tz: VitalsDetector(c).feed),
    DetectorSpec("apnea", (BED_BOARD,), {"device": BED_BOARD},
                 lambda c, tz: ApneaDetector(c).feed),
    DetectorSpec("rates", (BED_BOARD,), {}, lambda c, tz: RateAlarmDetector(c).feed),
    DetectorSpec("baseline", (BED_BOARD,), {}, lambda c, tz: BaselineDetector(c, tz).feed),
    DetectorSpec("sensor_faults", (BED_BOARD,), {"device": BED_BOARD},
                 lambda c, tz: SensorFaultDetector(c).feed),
    DetectorSpec("mat", (FLOOR_MAT, FALL_RADAR), {"device": FLOOR_MAT, "radar": FALL_RADAR},
                 lambda c, tz: MatFallDetector(c).feed, optional=("radar",)),
    DetectorSpec("activity", (BED_BOARD, FLOOR_MAT), {"bed": BED_BOARD, "mat": FLOOR_MAT},
                 lambda c, tz: ActivityDetector(c, tz).feed, optional=("mat",)),
    DetectorSpec("bp", (CUFF,), {}, lambda c, tz: BpDetector(c).feed),
    DetectorSpec("news2", (BED_BOARD,), {"bed": BED_BOARD, "cuff": CUFF},
                 lambda c, tz: News2Detector(c).feed, optional=("cuff",)),
)


class DetectorsConfig(BaseModel):
    """Every detector's settings for this resident; omitted sections take their defaults."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the detectors on this agent.")
    timezone: str = Field(localtime.DEFAULT_TIMEZONE, description="The resident's time zone, "
                          "an IANA name (e.g. Asia/Shanghai, Europe/Berlin): night hours, "
                          "daytime and bedtime are judged in it, daylight saving included.")
    occupancy: OccupancyConfig = Field(default_factory=OccupancyConfig)
    vitals: VitalsConfig = Field(default_factory=VitalsConfig)
    apnea: ApneaConfig = Field(default_factory=ApneaConfig)
    rates: RateAlarmConfig = Field(default_factory=RateAlarmConfig)
    mat: MatConfig = Field(default_factory=MatConfig)
    activity: ActivityConfig = Field(default_factory=ActivityConfig)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    sensor_faults: SensorFaultConfig = Field(default_factory=SensorFaultConfig)
    bp: BpConfig = Field(default_factory=BpConfig)
    news2: News2Config = Field(default_factory=News2Config)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        localtime.zone(name)
        return name


def _wired(spec: DetectorSpec, settings: BaseModel, devices: Sequence[Any]) -> BaseModel:
    """Return `settings` with every device setting the user left out pointed at the home's
    device of its role; raise ConfigError for one the user set that names no such device."""
    update: dict[str, str | None] = {}
    for name, role in spec.devices.items():
        ids = [d.id for d in devices if role.matches(d)]
        if name in settings.model_fields_set:
            chosen = getattr(settings, name)
            if chosen is not None and chosen not in ids:
                have = ", ".join(ids) if ids else "none configured"
                raise ConfigError(f"detectors.{spec.key}.{name}: {chosen!r} is not a "
                                  f"configured {role.name} (this home's: {have})")
        elif ids:
            update[name] = ids[0]
        elif name in spec.optional:
            update[name] = None  # a device this home does not have
    return settings.model_copy(update=update) if update else settings


def check(config: DetectorsConfig, devices: Sequence[Any]) -> None:
    """Raise ConfigError if a device named under [detectors] is not one of the home's."""
    for spec in DETECTORS:
        _wired(spec, getattr(config, spec.key), devices)


def build(config: DetectorsConfig, devices: Sequence[Any]) -> list[Feed]:
    """Return the detectors the home's devices can feed, each pointed at its devices."""
    check(config, devices)
    if not config.enabled:
        return []
    tz = localtime.zone(config.timezone)
    feeds: list[Feed] = []
    for spec in DETECTORS:
        if any(role.matches(d) for role in spec.runs_on for d in devices):
            feeds.append(spec.factory(_wired(spec, getattr(config, spec.key), devices), tz))
    return feeds
