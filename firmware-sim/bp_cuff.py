"""A simulated Bluetooth blood-pressure cuff behind the driver's `BleClient` seam.

It keeps measurements the way a cuff's memory does, delivers the unsent ones by indication
right after the host subscribes, and can lose the link part-way, as a cuff walking out of
range does. `encode_measurement` writes the same bytes a real cuff sends.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from edge.drivers.bp_cuff import (
    BLOOD_PRESSURE_FEATURE,
    BLOOD_PRESSURE_MEASUREMENT,
    CURRENT_TIME,
    INTERMEDIATE_CUFF_PRESSURE,
)

SFLOAT_NAN = 0x07FF


def to_sfloat(value: float | None, exponent: int = 0) -> int:
    """Encode a number as an IEEE 11073 SFLOAT with the given exponent (None → NaN)."""
    if value is None:
        return SFLOAT_NAN
    mantissa = round(value / 10.0**exponent)
    if not -2046 <= mantissa <= 2045:
        raise ValueError(f"{value} does not fit an SFLOAT with exponent {exponent}")
    return ((exponent & 0xF) << 12) | (mantissa & 0x0FFF)


@dataclass
class Measurement:
    systolic: float
    diastolic: float
    mean: float | None = None
    pulse: float | None = None
    timestamp: datetime | None = None
    user_id: int | None = None
    status: int | None = None
    kpa: bool = False


def encode_measurement(m: Measurement, *, beurer: bool = False) -> bytes:
    """Return the 0x2A35 bytes a cuff sends for `m`."""
    flags = (0x01 if m.kpa else 0) | (0x02 if m.timestamp else 0) | \
        (0x04 if m.pulse is not None else 0) | (0x08 if m.user_id is not None else 0) | \
        (0x10 if m.status is not None else 0)
    exponent = -1 if m.kpa else 0
    mean = m.mean if m.mean is not None else None
    out = bytearray([flags])
    out += struct.pack("<HHH", to_sfloat(m.systolic, exponent), to_sfloat(m.diastolic, exponent),
                       to_sfloat(mean, exponent))
    if m.timestamp is not None:
        ts = m.timestamp
        out += struct.pack("<HBBBBB", ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second)
    endian = ">" if beurer else "<"
    if m.pulse is not None:
        out += struct.pack(f"{endian}H", to_sfloat(m.pulse))
    if m.user_id is not None or beurer:
        out.append(0xFF if m.user_id is None else m.user_id)
    if m.status is not None:
        out += struct.pack(f"{endian}H", m.status)
    return bytes(out)


class SimulatedCuff:
    """Stands in for a cuff and its radio; one instance per connection attempt."""

    def __init__(self, memory: list[bytes], *, drop_after: int | None = None,
                 clock_characteristic: str = CURRENT_TIME, interval_s: float = 0.01,
                 cuff_pressures: list[float] | None = None,
                 fail_on_connect: bool = False) -> None:
        self.memory = memory  # shared with the test: delivered records are removed
        self.drop_after = drop_after
        self.clock_characteristic = clock_characteristic
        self.interval_s = interval_s
        self.cuff_pressures = cuff_pressures or []
        self.connected = False
        self.fail_on_connect = fail_on_connect
        self.clock_written: bytes | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def is_connected(self) -> bool:
        return self.connected

    async def connect(self) -> None:
        if self.fail_on_connect:
            from bleak.exc import BleakError

            raise BleakError("le-connection-abort-by-local")
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False
        for task in self._tasks:
            task.cancel()

    def has_characteristic(self, uuid: str) -> bool:
        return uuid in (BLOOD_PRESSURE_MEASUREMENT, BLOOD_PRESSURE_FEATURE,
                        INTERMEDIATE_CUFF_PRESSURE, self.clock_characteristic)

    async def read_gatt_char(self, uuid: str) -> bytes:
        if uuid != BLOOD_PRESSURE_FEATURE:
            raise OSError(f"characteristic {uuid} cannot be read")
        return struct.pack("<H", 0b000111)  # body movement, cuff fit, irregular pulse

    async def write_gatt_char(self, uuid: str, data: bytes, response: bool = True) -> None:
        if uuid != self.clock_characteristic:
            raise OSError(f"characteristic {uuid} is not writable")
        self.clock_written = data

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        if uuid == BLOOD_PRESSURE_MEASUREMENT:
            self._tasks.append(asyncio.create_task(self._deliver(callback)))
        elif uuid == INTERMEDIATE_CUFF_PRESSURE:
            for pressure in self.cuff_pressures:
                callback(struct.pack("<BHHH", 0, to_sfloat(pressure), SFLOAT_NAN, SFLOAT_NAN))

    async def _deliver(self, callback: Callable[[bytes], None]) -> None:
        sent = 0
        while self.memory and self.connected:
            if self.drop_after is not None and sent >= self.drop_after:
                self.connected = False  # out of range: the link is gone mid-transfer
                return
            await asyncio.sleep(self.interval_s)
            callback(self.memory.pop(0))  # an indication confirmed: the cuff forgets it
            sent += 1
        await asyncio.sleep(self.interval_s)
        self.connected = False  # like the A&D cuffs: done, disconnect by itself
