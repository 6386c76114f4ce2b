"""What flows through the agent: drivers yield these items, detectors take and return them.

    Observation   a typed value to publish (becomes `wire.Reading`)
    DeviceEvent   something a device reported or a detector found (becomes `wire.Event`)
    SampleBlock   raw samples for the detectors only (never published)
    DeviceHealth  a device's condition (becomes the retained `wire.DeviceStatus`)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Observation:
    """A typed value a device or a detector observed, to publish (becomes `wire.Reading`)."""

    device: str
    kind: str
    t: float
    fields: dict[str, bool | int | float | str]


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something a device reported or a detector found (becomes `wire.Event`)."""

    device: str
    kind: str
    t: float
    data: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None  # None: wire.DEFAULT_SEVERITY for the kind, else "low"


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """A block of raw samples for the detectors: shape (n_samples, n_channels).

    `t0` is the UTC time of the first sample; sample i is at t0 + i / fs. `first_index` is the
    device's own count of that sample (e.g. the board's `first_index`, wrapping at 2**32).
    """

    device: str
    t0: float
    fs: float
    samples: np.ndarray
    first_index: int = 0
    sensor: str | None = None  # the kind of sensor the board says it carries, if it says


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """A device's condition (becomes the retained `wire.DeviceStatus`)."""

    device: str
    t: float
    connected: bool
    battery_pct: float | None = None
    errors: dict[str, int] = field(default_factory=dict)


DriverItem = Observation | DeviceEvent | SampleBlock | DeviceHealth
# What a detector takes, and what it gives back.
DetectorInput = SampleBlock | Observation | DeviceEvent
DetectorOutput = Observation | DeviceEvent
