"""Simulated Bluetooth blood-pressure cuffs behind the driver's `BleClient` seam.

Three kinds of cuff keep a memory (`CuffMemory`) across connections, as real ones do:

- `"live"`: pushes the records it has not sent yet by indication (or, like some Omron
  models, only its latest one) right after the host subscribes, then disconnects;
- `"and"`: an A&D UA-651BLE: Date Time 0x2A08 for its clock, the custom 0x233BF001
  characteristic for the memory request (obniz/obniz `src/parts/Ble/UA651BLE/index.ts`);
  pushes only unsent records and disconnects by itself, or its whole memory once asked when
  `resend_all_on_request` is set;
- `"racp"`: a Blood Pressure Service 1.1 cuff: stored records with sequence numbers are
  fetched through the Record Access Control Point 0x2A52 and delivered, segmented, as Blood
  Pressure Records 0x2B36; readings taken while connected are indicated live as well.

`enhanced=True` sends Enhanced Blood Pressure Measurements 0x2B34 instead of 0x2A35. Every
encoder writes the bytes the GATT Specification Supplement lays out.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from edge.drivers.ble_bps import (
    BLOOD_PRESSURE_FEATURE,
    BLOOD_PRESSURE_MEASUREMENT,
    BLOOD_PRESSURE_RECORD,
    CURRENT_TIME,
    DATE_TIME,
    ENHANCED_BLOOD_PRESSURE_MEASUREMENT,
    INTERMEDIATE_CUFF_PRESSURE,
    RACP_ALL,
    RACP_GREATER_OR_EQUAL,
    RACP_NO_RECORDS,
    RACP_REPORT_STORED_RECORDS,
    RACP_RESPONSE_CODE,
    RACP_SUCCESS,
    RECORD_ACCESS_CONTROL_POINT,
)
from edge.drivers.bp_cuff import AND_CUSTOM, AND_REQUEST_MEMORY

SFLOAT_NAN = 0x07FF
RACP_OPERATOR_NOT_SUPPORTED = 0x04
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)


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
    """What a cuff measured; `timestamp` is the cuff's local wall time."""

    systolic: float
    diastolic: float
    mean: float | None = None
    pulse: float | None = None
    timestamp: datetime | None = None
    user_id: int | None = None
    status: int | None = None
    kpa: bool = False


def _flags_and_pressures(m: Measurement) -> bytearray:
    flags = (0x01 if m.kpa else 0) | (0x02 if m.timestamp else 0) | \
        (0x04 if m.pulse is not None else 0) | (0x08 if m.user_id is not None else 0) | \
        (0x10 if m.status is not None else 0)
    exponent = -1 if m.kpa else 0
    out = bytearray([flags])
    out += struct.pack("<HHH", to_sfloat(m.systolic, exponent), to_sfloat(m.diastolic, exponent),
                       to_sfloat(m.mean, exponent))
    return out


def _pulse_user_status(m: Measurement) -> bytes:
    out = bytearray()
    if m.pulse is not None:
        out += struct.pack("<H", to_sfloat(m.pulse))
    if m.user_id is not None:
        out.append(m.user_id)
    if m.status is not None:
        out += struct.pack("<H", m.status)
    return bytes(out)


def encode_measurement(m: Measurement) -> bytes:
    """Return the Blood Pressure Measurement (0x2A35) bytes a cuff sends for `m`."""
    out = _flags_and_pressures(m)
    if m.timestamp is not None:
        ts = m.timestamp
        out += struct.pack("<HBBBBB", ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second)
    return bytes(out + _pulse_user_status(m))


def encode_enhanced_measurement(m: Measurement, zone: str = "Asia/Shanghai", *,
                                user_facing_time: bool = True) -> bytes:
    """Return the Enhanced Blood Pressure Measurement (0x2B34) bytes for `m`, epoch 2000.

    The time stamp is UTC seconds since 2000-01-01; the user facing time is the cuff's local
    wall time counted the same way.
    """
    out = _flags_and_pressures(m)
    if m.timestamp is None:
        return bytes(out + _pulse_user_status(m))
    out[0] |= 0x40 | (0x20 if user_facing_time else 0)  # epoch 2000, user facing time
    utc = m.timestamp.replace(tzinfo=ZoneInfo(zone))
    out += struct.pack("<I", int((utc - _EPOCH_2000).total_seconds()))
    out += _pulse_user_status(m)
    if user_facing_time:
        local = m.timestamp.replace(tzinfo=UTC)
        out += struct.pack("<I", int((local - _EPOCH_2000).total_seconds()))
    return bytes(out)


def encode_record(sequence: int, uuid16: int, value: bytes, *,
                  segment_size: int = 20) -> list[bytes]:
    """Return the Blood Pressure Record (0x2B36) segments that carry one stored value.

    `segment_size` is the indication payload (ATT MTU − 3; 20 with the default MTU).
    """
    room = segment_size - 5
    chunks = [value[i:i + room] for i in range(0, len(value), room)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        header = (0x01 if i == 0 else 0) | (0x02 if i == len(chunks) - 1 else 0) | \
            ((i & 0x3F) << 2)
        out.append(struct.pack("<BHH", header, sequence, uuid16) + chunk)
    return out


@dataclass
class CuffMemory:
    """A cuff's stored measurements, which it has sent, and its sequence numbers."""

    records: list[Measurement] = field(default_factory=list)
    sent: int = 0  # records before this index have been delivered (A&D and "live" cuffs)
    first_sequence: int = 0

    def sequence(self, index: int) -> int:
        return (self.first_sequence + index) & 0xFFFF


class SimulatedCuff:
    """Stands in for one cuff and its radio; one instance per connection."""

    def __init__(self, memory: CuffMemory, *, kind: Literal["live", "and", "racp"] = "live",
                 enhanced: bool = False, only_latest: bool = False,
                 resend_all_on_request: bool = False, racp_filters: bool = True,
                 live: list[Measurement] | None = None, raw_before: list[bytes] | None = None,
                 drop_after: int | None = None, fail_on_connect: bool = False,
                 cuff_pressures: list[float] | None = None, segment_size: int = 20,
                 zone: str = "Asia/Shanghai", interval_s: float = 0.0) -> None:
        self.memory = memory
        self.kind = kind
        self.enhanced = enhanced
        self.only_latest = only_latest
        self.resend_all_on_request = resend_all_on_request
        self.racp_filters = racp_filters
        self.live = list(live or [])
        self.raw_before = list(raw_before or [])
        self.drop_after = drop_after
        self.fail_on_connect = fail_on_connect
        self.cuff_pressures = cuff_pressures or []
        self.segment_size = segment_size
        self.zone = zone
        self.interval_s = interval_s
        self.connected = False
        self.clock_written: bytes | None = None
        self.custom_writes: list[bytes] = []
        self.racp_requests: list[bytes] = []
        self.subscribed: list[str] = []
        self._measurement_cb: Callable[[bytes], None] | None = None
        self._record_cb: Callable[[bytes], None] | None = None
        self._racp_cb: Callable[[bytes], None] | None = None
        self._sent_this_link = 0
        self._live_done = False
        self._racp_done = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- the BleClient seam -------------------------------------------------------------

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
        offered = {BLOOD_PRESSURE_MEASUREMENT, BLOOD_PRESSURE_FEATURE, INTERMEDIATE_CUFF_PRESSURE,
                   DATE_TIME if self.kind == "and" else CURRENT_TIME}
        if self.enhanced:
            offered.add(ENHANCED_BLOOD_PRESSURE_MEASUREMENT)
        if self.kind == "and":
            offered.add(AND_CUSTOM)
        if self.kind == "racp":
            offered |= {RECORD_ACCESS_CONTROL_POINT, BLOOD_PRESSURE_RECORD}
        return uuid in offered

    async def read_gatt_char(self, uuid: str) -> bytes:
        if uuid != BLOOD_PRESSURE_FEATURE:
            raise OSError(f"characteristic {uuid} cannot be read")
        return struct.pack("<H", 0b000111)  # body movement, cuff fit, irregular pulse

    async def write_gatt_char(self, uuid: str, data: bytes, response: bool = True) -> None:
        if uuid in (CURRENT_TIME, DATE_TIME) and self.has_characteristic(uuid):
            self.clock_written = bytes(data)
        elif uuid == AND_CUSTOM and self.kind == "and":
            self.custom_writes.append(bytes(data))
        elif uuid == RECORD_ACCESS_CONTROL_POINT and self.kind == "racp":
            if self._racp_cb is None:
                raise OSError("RACP written before its indications were enabled")
            self.racp_requests.append(bytes(data))
            self._tasks.append(asyncio.create_task(self._answer_racp(bytes(data))))
        else:
            raise OSError(f"characteristic {uuid} is not writable")

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        if not self.has_characteristic(uuid):
            raise OSError(f"characteristic {uuid} is not offered")
        self.subscribed.append(uuid)
        if uuid in (BLOOD_PRESSURE_MEASUREMENT, ENHANCED_BLOOD_PRESSURE_MEASUREMENT):
            self._measurement_cb = callback
            self._tasks.append(asyncio.create_task(self._push(callback)))
        elif uuid == BLOOD_PRESSURE_RECORD:
            self._record_cb = callback
        elif uuid == RECORD_ACCESS_CONTROL_POINT:
            self._racp_cb = callback
        elif uuid == INTERMEDIATE_CUFF_PRESSURE:
            for pressure in self.cuff_pressures:
                callback(struct.pack("<BHHH", 0, to_sfloat(pressure), SFLOAT_NAN, SFLOAT_NAN))

    # -- behaviour ----------------------------------------------------------------------

    def value(self, m: Measurement) -> bytes:
        """Return the measurement value this cuff sends for `m`."""
        return encode_enhanced_measurement(m, self.zone) if self.enhanced \
            else encode_measurement(m)

    async def _indicate(self, callback: Callable[[bytes], None], data: bytes) -> bool:
        """Indicate one value; False once the link has gone (out of range)."""
        if not self.connected:
            return False
        if self.drop_after is not None and self._sent_this_link >= self.drop_after:
            self.connected = False
            return False
        await asyncio.sleep(self.interval_s)
        callback(data)  # confirmed by the host's stack
        self._sent_this_link += 1
        return True

    async def _push(self, callback: Callable[[bytes], None]) -> None:
        await asyncio.sleep(0)  # let the host finish subscribing, as a radio would
        for raw in self.raw_before:
            if not await self._indicate(callback, raw):
                return
        if self.kind == "racp":
            for m in self.live:  # measured while connected: stored and indicated
                self.memory.records.append(m)
                if not await self._indicate(callback, self.value(m)):
                    return
            self._live_done = True
            self._finish_if_done()
            return
        if self.kind == "and" and self.resend_all_on_request and \
                AND_REQUEST_MEMORY in self.custom_writes:
            self.memory.sent = 0
        if self.only_latest and self.memory.sent < len(self.memory.records):
            self.memory.sent = len(self.memory.records) - 1  # older unsent records are skipped
        while self.memory.sent < len(self.memory.records):
            if not await self._indicate(callback, self.value(
                    self.memory.records[self.memory.sent])):
                return
            self.memory.sent += 1
        await asyncio.sleep(self.interval_s)
        self.connected = False  # done: these cuffs disconnect by themselves

    async def _answer_racp(self, request: bytes) -> None:
        assert self._racp_cb is not None
        await asyncio.sleep(0)
        start = 0
        if request[:2] == bytes([RACP_REPORT_STORED_RECORDS, RACP_GREATER_OR_EQUAL]):
            if not self.racp_filters:
                self._racp_cb(bytes([RACP_RESPONSE_CODE, 0, RACP_REPORT_STORED_RECORDS,
                                     RACP_OPERATOR_NOT_SUPPORTED]))
                return
            (wanted,) = struct.unpack_from("<H", request, 3)
            start = next((i for i in range(len(self.memory.records))
                          if self.memory.sequence(i) >= wanted), len(self.memory.records))
        elif request[:2] != bytes([RACP_REPORT_STORED_RECORDS, RACP_ALL]):
            self._racp_cb(bytes([RACP_RESPONSE_CODE, 0, request[0], 0x02]))
            return
        chosen = list(range(start, len(self.memory.records)))
        uuid16 = 0x2B34 if self.enhanced else 0x2A35
        for i in chosen:
            value = self.value(self.memory.records[i])
            for segment in encode_record(self.memory.sequence(i), uuid16, value,
                                         segment_size=self.segment_size):
                assert self._record_cb is not None
                if not await self._indicate(self._record_cb, segment):
                    return
        if not self.connected:
            return
        self._racp_cb(bytes([RACP_RESPONSE_CODE, 0, RACP_REPORT_STORED_RECORDS,
                             RACP_SUCCESS if chosen else RACP_NO_RECORDS]))
        self._racp_done = True
        self._finish_if_done()

    def _finish_if_done(self) -> None:
        if self._live_done and self._racp_done:
            self._tasks.append(asyncio.create_task(self._hang_up()))

    async def _hang_up(self) -> None:
        await asyncio.sleep(self.interval_s)
        self.connected = False
