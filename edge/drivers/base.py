"""What every driver yields. A driver is an async context manager and an async iterator:

    async with CallButtonDriver(config, transport) as driver:
        async for item in driver:
            ...   # Reading | DeviceEvent | SampleBlock | DeviceHealth

Decoding lives in pure functions on bytes in each driver module, so golden cases test
it without I/O. Drivers never raise out of their iterator for device trouble: they
yield a `device_fault` event, count the error in `DeviceHealth.errors`, reconnect with
backoff and yield `device_recovered` when data flows again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bedwatch.wire import ID_PATTERN


class DeviceConfigBase(BaseModel):
    """Fields every device config has; each driver's config adds `type: Literal[...]`."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="Driver type.")
    id: str = Field(pattern=ID_PATTERN, description="Device id, unique within the home.")
    silent_after_s: float = Field(
        60.0, gt=0, description="Silence (no data at all) after which device_silent is raised."
    )


@dataclass(frozen=True, slots=True)
class Reading:
    """A typed measurement to publish (becomes `wire.Reading`)."""

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

    `t0` is the UTC time of the first sample; sample i is at t0 + i / fs.
    """

    device: str
    t0: float
    fs: float
    samples: np.ndarray
    seq: int = 0


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """A device's condition (becomes the retained `wire.DeviceStatus`)."""

    device: str
    t: float
    connected: bool
    battery_pct: float | None = None
    errors: dict[str, int] = field(default_factory=dict)


DriverItem = Reading | DeviceEvent | SampleBlock | DeviceHealth


class Driver(Protocol):
    """The shape the agent relies on."""

    device_id: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def __aiter__(self) -> AsyncIterator[DriverItem]: ...
