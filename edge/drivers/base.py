"""What every driver is. A driver is an async context manager and an async iterator:

    async with CallButtonDriver(config, transport) as driver:
        async for item in driver:
            ...   # Observation | DeviceEvent | SampleBlock | DeviceHealth (edge.items)

Decoding lives in pure functions on bytes in each driver module, so golden cases test
it without I/O. Drivers never raise out of their iterator for device trouble: they
yield a `device_fault` event, count the error in `DeviceHealth.errors`, reconnect with
backoff and yield `device_recovered` when data flows again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, Self

from pydantic import BaseModel, ConfigDict, Field

from bedwatch.wire import ID_PATTERN
from edge.items import DriverItem


class DeviceConfigBase(BaseModel):
    """Fields every device config has; each driver's config adds `type: Literal[...]`."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="Driver type.")
    id: str = Field(pattern=ID_PATTERN, description="Device id, unique within the home.")
    silent_after_s: float = Field(
        60.0, gt=0, description="Silence (no data at all) after which device_silent is raised."
    )


class SerialDeviceConfig(DeviceConfigBase):
    """A device on a serial line; each driver sets its own default speed and silence."""

    port: str = Field(description="Serial port path or pyserial URL, e.g. /dev/ttyUSB0.")
    baudrate: int = Field(115200, gt=0, description="Serial speed of the device.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest wait between reconnects.")


class Driver(Protocol):
    """The shape the agent relies on."""

    device_id: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def __aiter__(self) -> AsyncIterator[DriverItem]: ...
