"""Blood-pressure cuffs over Bluetooth LE: the Blood Pressure Service (0x1810).

Decoding is pure (`decode_measurement`, `decode_enhanced_measurement`, the RACP and record
helpers) and raises only `CuffDataError`. The radio sits behind a small client seam
(`BleClient`) so the simulator in `firmware-sim/bp_cuff.py` can stand in for it; the default
client is `bleak`.

Sources: Bluetooth GATT Specification Supplement (GSS), Blood Pressure Measurement 0x2A35,
Enhanced Blood Pressure Measurement 0x2B34, Blood Pressure Record 0x2B36, Blood Pressure
Feature 0x2A49 and Record Access Control Point 0x2A52; Blood Pressure Service 1.1; IEEE
11073-20601 for SFLOAT; NordicSemiconductor/Android-BLE-Common-Library
`ble-common/.../callback/bps/BloodPressureMeasurementDataCallback.java` (minimum length only,
extra bytes ignored) and `.../callback/RecordAccessControlPointDataCallback.java`; obniz/obniz
`src/parts/Ble/UA651BLE/index.ts` for the A&D UA-651BLE connect sequence.

Cuffs keep a memory. A cuff with RACP is asked for its stored records from the sequence number
after the last one delivered; an A&D cuff is asked for its memory and pushes it; others push
what they have not sent yet (some only their latest reading). A record delivered twice (after
a reconnect, by RACP and by indication, or after an agent restart) becomes one reading: the
driver keeps a key derived from each reading's own time stamp and values, and the last RACP
sequence number, in a small state file in `state_dir`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import struct
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bleak.exc import BleakError
from pydantic import Field, field_validator, model_validator

from edge.drivers.base import DeviceConfigBase, DeviceEvent, DeviceHealth, DriverItem, Reading

log = logging.getLogger(__name__)


def _uuid16(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


BLOOD_PRESSURE_MEASUREMENT = _uuid16(0x2A35)  # indicated
INTERMEDIATE_CUFF_PRESSURE = _uuid16(0x2A36)  # notified
BLOOD_PRESSURE_FEATURE = _uuid16(0x2A49)
ENHANCED_BLOOD_PRESSURE_MEASUREMENT = _uuid16(0x2B34)  # BLS 1.1, indicated
BLOOD_PRESSURE_RECORD = _uuid16(0x2B36)  # BLS 1.1: stored records, indicated
RECORD_ACCESS_CONTROL_POINT = _uuid16(0x2A52)
CURRENT_TIME = _uuid16(0x2A2B)  # Current Time Service 0x1805
DATE_TIME = _uuid16(0x2A08)  # A&D cuffs take their clock here, inside 0x1810
# A&D custom service 0x233BF000, characteristic 0x233BF001 (obniz/obniz UA651BLE/index.ts).
AND_CUSTOM = "233bf001-5a34-1b6d-975c-000d5690abe4"
# Size 2, type 0, command 0xE1: the memory request obniz writes first on connect (same file).
AND_REQUEST_MEMORY = bytes([0x02, 0x00, 0xE1])
KPA_TO_MMHG = 7.50062

_FLAG_KPA, _FLAG_TIME, _FLAG_PULSE, _FLAG_USER, _FLAG_STATUS = 0x01, 0x02, 0x04, 0x08, 0x10
# GSS 0x2B34 flags: bit5 User Facing Time present, bit6 Epoch Start 2000 (else 1900).
_FLAG_USER_FACING_TIME, _FLAG_EPOCH_2000 = 0x20, 0x40
_EPOCH_1900 = datetime(1900, 1, 1, tzinfo=UTC)
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)
# IEEE 11073-20601 SFLOAT special values: "no value".
_SFLOAT_SPECIAL = {0x07FF: "NaN", 0x0800: "NRes", 0x07FE: "+INF", 0x0802: "-INF",
                   0x0801: "reserved"}
_PULSE_RANGE = {0: "in_range", 1: "above", 2: "below"}
_USER_UNKNOWN = 0xFF  # GSS 0x2A35 User ID: 255 is "unknown user"

# bedwatch's plausibility bounds, wider than any cuff's measuring range: a value outside them
# is a broken record, not a reading.
SYSTOLIC_MMHG = (40.0, 300.0)
DIASTOLIC_MMHG = (20.0, 200.0)
PULSE_BPM = (20.0, 250.0)

# Record Access Control Point (GSS 0x2A52; op codes as Nordic's RACP callback reads them).
RACP_REPORT_STORED_RECORDS = 0x01
RACP_RESPONSE_CODE = 0x06
RACP_OPERATOR_NULL, RACP_ALL, RACP_GREATER_OR_EQUAL = 0x00, 0x01, 0x03
RACP_FILTER_SEQUENCE_NUMBER = 0x01  # BLS 1.1 RACP operand filter type
RACP_SUCCESS, RACP_NO_RECORDS = 0x01, 0x06
RACP_NOT_SUPPORTED = {0x02, 0x04, 0x09}  # op code / operator / operand not supported
# Blood Pressure Feature bit6: E2E-CRC (BLS 1.1); records then end in a 2-byte CRC.
_FEATURE_E2E_CRC = 1 << 6

Reason = Literal["truncated", "no_value", "out_of_range", "time_stamp", "record", "racp"]


class CuffDataError(ValueError):
    """A value from the cuff that is not a measurement; `reason` names the counter."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def sfloat(raw: int) -> float | None:
    """Decode an IEEE 11073 16-bit SFLOAT; None for NaN, NRes, ±INF and reserved."""
    if raw in _SFLOAT_SPECIAL:
        return None
    mantissa = raw & 0x0FFF
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    exponent = raw >> 12
    if exponent >= 0x8:
        exponent -= 0x10
    return round(mantissa * 10.0**exponent, 6)


@dataclass(frozen=True)
class BloodPressureMeasurement:
    """One decoded measurement, pressures in mmHg.

    `timestamp` is naive local cuff time (0x2A35, or 0x2B34's user facing time) or aware UTC
    (0x2B34's time stamp); None when the cuff gave none or an unknown date.
    """

    systolic_mmhg: float
    diastolic_mmhg: float
    mean_arterial_mmhg: float | None
    pulse_bpm: float | None
    timestamp: datetime | None
    user_id: int | None
    body_movement: bool
    cuff_loose: bool
    irregular_pulse: bool
    pulse_range: str | None
    improper_position: bool
    status: int | None = None


def _need(data: bytes, size: int, what: str) -> None:
    if len(data) < size:
        raise CuffDataError("truncated", f"truncated: {len(data)} bytes, {what} need {size}")


def _pressures(data: bytes) -> tuple[float, float, float | None]:
    scale = KPA_TO_MMHG if data[0] & _FLAG_KPA else 1.0
    raw_sys, raw_dia, raw_map = struct.unpack_from("<HHH", data, 1)
    systolic, diastolic, mean = sfloat(raw_sys), sfloat(raw_dia), sfloat(raw_map)
    if systolic is None or diastolic is None:
        raise CuffDataError("no_value", "systolic or diastolic is not a number")
    sys_mmhg, dia_mmhg = round(systolic * scale, 1), round(diastolic * scale, 1)
    map_mmhg = None if mean is None else round(mean * scale, 1)
    _in_range("systolic", sys_mmhg, SYSTOLIC_MMHG, "mmHg")
    _in_range("diastolic", dia_mmhg, DIASTOLIC_MMHG, "mmHg")
    if dia_mmhg >= sys_mmhg:
        raise CuffDataError("out_of_range",
                            f"diastolic {dia_mmhg} not below systolic {sys_mmhg} mmHg")
    if map_mmhg is not None and not dia_mmhg <= map_mmhg <= sys_mmhg:
        raise CuffDataError("out_of_range", f"mean arterial pressure {map_mmhg} mmHg outside "
                                            f"{dia_mmhg}-{sys_mmhg}")
    return sys_mmhg, dia_mmhg, map_mmhg


def _in_range(name: str, value: float, bounds: tuple[float, float], unit: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise CuffDataError("out_of_range", f"{name} {value} {unit} outside {low:g}-{high:g}")


def _date_time(data: bytes, offset: int) -> datetime | None:
    """Decode a GSS Date Time (7 bytes); None when year, month or day is 0 (unknown)."""
    year, month, day, hour, minute, second = struct.unpack_from("<HBBBBB", data, offset)
    # GSS Date Time: year 1582-9999 or 0, month 1-12 or 0, day 1-31 or 0, hour 0-23, ...
    if (year and not 1582 <= year <= 9999) or month > 12 or day > 31 or hour > 23 \
            or minute > 59 or second > 59:
        raise CuffDataError("time_stamp", f"invalid time stamp {year:04d}-{month:02d}-{day:02d} "
                                          f"{hour:02d}:{minute:02d}:{second:02d}")
    if not (year and month and day):
        return None
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as exc:  # 31 February and friends
        raise CuffDataError("time_stamp", f"invalid time stamp: {exc}") from exc


def _optional_tail(data: bytes, flags: int, offset: int
                   ) -> tuple[float | None, int | None, int | None, int]:
    pulse = None
    if flags & _FLAG_PULSE:
        pulse = sfloat(struct.unpack_from("<H", data, offset)[0])
        offset += 2
        if pulse is not None:
            _in_range("pulse", pulse, PULSE_BPM, "bpm")
    user_id = None
    if flags & _FLAG_USER:
        user_id = None if data[offset] == _USER_UNKNOWN else data[offset]
        offset += 1
    status = None
    if flags & _FLAG_STATUS:
        (status,) = struct.unpack_from("<H", data, offset)
        offset += 2
    return pulse, user_id, status, offset


def _measurement(pressures: tuple[float, float, float | None], pulse: float | None,
                 timestamp: datetime | None, user_id: int | None,
                 status: int | None) -> BloodPressureMeasurement:
    systolic, diastolic, mean = pressures
    return BloodPressureMeasurement(
        systolic_mmhg=systolic, diastolic_mmhg=diastolic, mean_arterial_mmhg=mean,
        pulse_bpm=pulse, timestamp=timestamp, user_id=user_id,
        body_movement=bool(status and status & 0x01),
        cuff_loose=bool(status and status & 0x02),
        irregular_pulse=bool(status and status & 0x04),
        pulse_range=None if status is None else _PULSE_RANGE.get((status >> 3) & 0x03,
                                                                  "reserved"),
        improper_position=bool(status and status & 0x20),
        status=status,
    )


def decode_measurement(data: bytes) -> BloodPressureMeasurement:
    """Decode a Blood Pressure Measurement (0x2A35) value; raise CuffDataError with the reason.

    Like the reference parsers, only the minimum length for the flags is required: reserved
    flag bits and bytes after the last field are ignored (GSS: reserved for future use).
    """
    _need(data, 7, "a measurement")
    flags = data[0]
    expected = 7 + 7 * bool(flags & _FLAG_TIME) + 2 * bool(flags & _FLAG_PULSE) + \
        bool(flags & _FLAG_USER) + 2 * bool(flags & _FLAG_STATUS)
    _need(data, expected, f"flags 0x{flags:02x}")
    pressures = _pressures(data)
    timestamp = _date_time(data, 7) if flags & _FLAG_TIME else None
    offset = 14 if flags & _FLAG_TIME else 7
    pulse, user_id, status, _ = _optional_tail(data, flags, offset)
    return _measurement(pressures, pulse, timestamp, user_id, status)


def decode_enhanced_measurement(data: bytes) -> BloodPressureMeasurement:
    """Decode an Enhanced Blood Pressure Measurement (0x2B34, BLS 1.1) value.

    GSS layout: flags, the three pressures, time stamp (uint32 s since the epoch start, UTC),
    pulse, user id, status, user facing time (uint32 s, local); epoch 2000 when flags bit6.
    """
    _need(data, 7, "a measurement")
    flags = data[0]
    expected = 7 + 4 * bool(flags & _FLAG_TIME) + 2 * bool(flags & _FLAG_PULSE) + \
        bool(flags & _FLAG_USER) + 2 * bool(flags & _FLAG_STATUS) + \
        4 * bool(flags & _FLAG_USER_FACING_TIME)
    _need(data, expected, f"flags 0x{flags:02x}")
    pressures = _pressures(data)
    epoch = _EPOCH_2000 if flags & _FLAG_EPOCH_2000 else _EPOCH_1900
    offset = 7
    utc = None
    if flags & _FLAG_TIME:
        utc = _epoch_time(epoch, struct.unpack_from("<I", data, offset)[0])
        offset += 4
    pulse, user_id, status, offset = _optional_tail(data, flags, offset)
    timestamp = utc
    if flags & _FLAG_USER_FACING_TIME:
        local = _epoch_time(epoch, struct.unpack_from("<I", data, offset)[0])
        if timestamp is None:  # the time the user saw on the cuff: local wall time
            timestamp = local.replace(tzinfo=None)
    return _measurement(pressures, pulse, timestamp, user_id, status)


def _epoch_time(epoch: datetime, seconds: int) -> datetime:
    # Any uint32 is a valid instant: at most 2036 from 1900, 2136 from 2000.
    return epoch + timedelta(seconds=seconds)


def decode_cuff_pressure(data: bytes) -> float | None:
    """Return the live cuff pressure in mmHg from an Intermediate Cuff Pressure (0x2A36) value."""
    _need(data, 3, "a cuff pressure")
    value = sfloat(struct.unpack_from("<H", data, 1)[0])
    scale = KPA_TO_MMHG if data[0] & _FLAG_KPA else 1.0
    return None if value is None else round(value * scale, 1)


_FEATURE_NAMES = ("body_movement_detection", "cuff_fit_detection", "irregular_pulse_detection",
                  "pulse_rate_range_detection", "measurement_position_detection",
                  "multiple_bonds", "e2e_crc", "user_data_service", "user_facing_time")


def decode_features(data: bytes) -> dict[str, bool]:
    """Decode the Blood Pressure Feature (0x2A49) bits (BLS 1.1 adds bits 6-8)."""
    _need(data, 2, "a feature value")
    bits = struct.unpack_from("<H", data)[0]
    return {name: bool(bits >> i & 1) for i, name in enumerate(_FEATURE_NAMES)}


def racp_report_all() -> bytes:
    """Return the RACP request "report stored records: all records"."""
    return bytes([RACP_REPORT_STORED_RECORDS, RACP_ALL])


def racp_report_from(sequence: int) -> bytes:
    """Return the RACP request "report stored records >= sequence number"."""
    if not 0 <= sequence <= 0xFFFF:
        raise CuffDataError("racp", f"sequence number {sequence} is not a uint16")
    return struct.pack("<BBBH", RACP_REPORT_STORED_RECORDS, RACP_GREATER_OR_EQUAL,
                       RACP_FILTER_SEQUENCE_NUMBER, sequence)


@dataclass(frozen=True)
class RacpResponse:
    """A RACP Response Code indication: which request it answers and how."""

    request: int
    code: int


def decode_racp_response(data: bytes) -> RacpResponse:
    """Decode a RACP Response Code (op code 6, operator null, request op code, response)."""
    if len(data) < 4 or data[0] != RACP_RESPONSE_CODE or data[1] != RACP_OPERATOR_NULL:
        raise CuffDataError("racp", f"not a RACP response code: {data[:8].hex(' ')}")
    return RacpResponse(request=data[2], code=data[3])


@dataclass(frozen=True)
class RecordSegment:
    """One Blood Pressure Record (0x2B36) indication."""

    first: bool
    last: bool
    counter: int
    sequence: int
    uuid16: int
    payload: bytes


def decode_record_segment(data: bytes, *, e2e_crc: bool = False) -> RecordSegment:
    """Decode a Blood Pressure Record segment (GSS 0x2B36).

    Layout: segmentation header (bit0 first, bit1 last, bits2-7 rolling counter), sequence
    number u16, UUID u16 of the recorded characteristic, its bytes, then the E2E-CRC u16 in
    the last segment when the cuff's feature says so (removed here, not checked).
    """
    _need(data, 5, "a record segment")
    header = data[0]
    sequence, uuid16 = struct.unpack_from("<HH", data, 1)
    last = bool(header & 0x02)
    payload = bytes(data[5:])
    if last and e2e_crc:
        if len(payload) < 2:
            raise CuffDataError("record", "record too short for its E2E-CRC")
        payload = payload[:-2]
    return RecordSegment(bool(header & 0x01), last, header >> 2, sequence, uuid16, payload)


class RecordAssembler:
    """Join Blood Pressure Record segments into whole recorded values."""

    def __init__(self) -> None:
        self._parts: list[RecordSegment] = []

    def feed(self, segment: RecordSegment) -> tuple[int, int, bytes] | None:
        """Take a segment; return (sequence, uuid16, value) once the record is complete."""
        if segment.first:
            if self._parts:
                self._parts = []
                raise CuffDataError("record", "record started before the previous one ended")
        elif not self._parts or segment.sequence != self._parts[0].sequence or \
                segment.counter != (self._parts[-1].counter + 1) & 0x3F:
            self._parts = []
            raise CuffDataError("record", f"segment {segment.counter} of record "
                                          f"{segment.sequence} out of order")
        self._parts.append(segment)
        if not segment.last:
            if len(self._parts) > 16:  # no measurement needs that many segments
                self._parts = []
                raise CuffDataError("record", "record longer than 16 segments")
            return None
        parts, self._parts = self._parts, []
        return parts[0].sequence, parts[0].uuid16, b"".join(p.payload for p in parts)


def current_time_value(now: datetime) -> bytes:
    """Return a Current Time (0x2A2B) value: date-time, day of week (Mon=1), fractions, reason."""
    # Adjust reason bit0: manual time update.
    return struct.pack("<HBBBBBBBB", now.year, now.month, now.day, now.hour, now.minute,
                       now.second, now.isoweekday(), 0, 0x01)


def date_time_value(now: datetime) -> bytes:
    """Return a Date Time (0x2A08) value, as A&D cuffs take it."""
    return struct.pack("<HBBBBB", now.year, now.month, now.day, now.hour, now.minute, now.second)


class BleClient(Protocol):
    """The narrow part of a BLE client the driver uses (bleak's `BleakClient` fits it)."""

    @property
    def is_connected(self) -> bool: ...

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    def has_characteristic(self, uuid: str) -> bool: ...

    async def read_gatt_char(self, uuid: str) -> bytes: ...

    async def write_gatt_char(self, uuid: str, data: bytes, response: bool = True) -> None: ...

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None: ...


# Finds the cuff when it advertises; None while it sleeps.
ClientFactory = Callable[[], Awaitable[BleClient | None]]


class BpCuffConfig(DeviceConfigBase):
    """A Bluetooth blood-pressure cuff."""

    type: Literal["bp_cuff"] = Field(description="Driver type.")
    address: str | None = Field(None, description="Bluetooth address of the bonded cuff.")
    name_prefix: str | None = Field(None, description="Advertised name prefix, e.g. "
                                                      "'A&D_UA-651BLE_'.")
    variant: Literal["standard", "and"] = Field(
        "standard", description="'and': A&D UA-651BLE and kin (clock via Date Time 0x2A08, "
                                "memory asked for on connect); 'standard': any other cuff.")
    timezone: str = Field("Asia/Shanghai", description="Zone the cuff's clock is set to.")
    state_dir: Path | None = Field(
        None, description="Absolute folder for this cuff's state file (keys of delivered "
                          "readings, last RACP sequence number) so an agent restart neither "
                          "repeats nor loses readings; unset keeps it in memory only.")
    scan_interval_s: float = Field(5.0, gt=0, description="How often to look for the cuff.")
    silent_after_s: float = Field(
        3 * 86400.0, gt=0, description="No measurement for this long raises device_silent "
                                       "(a cuff is used a few times a day, not continuously).")

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_absolute():
            raise ValueError("state_dir must be an absolute path")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, OSError, ZoneInfoNotFoundError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _findable(self) -> BpCuffConfig:
        if not self.address and not self.name_prefix:
            raise ValueError("give the cuff's address or its name_prefix")
        return self


class BleakCuffClient:
    """`BleClient` on top of bleak."""

    def __init__(self, device: object) -> None:
        from bleak import BleakClient

        self._client = BleakClient(device)  # type: ignore[arg-type]

    @property
    def is_connected(self) -> bool:
        return bool(self._client.is_connected)

    async def connect(self) -> None:
        await self._client.connect()

    async def disconnect(self) -> None:
        await self._client.disconnect()

    def has_characteristic(self, uuid: str) -> bool:
        return self._client.services.get_characteristic(uuid) is not None

    async def read_gatt_char(self, uuid: str) -> bytes:
        return bytes(await self._client.read_gatt_char(uuid))

    async def write_gatt_char(self, uuid: str, data: bytes, response: bool = True) -> None:
        await self._client.write_gatt_char(uuid, data, response=response)

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        # bleak subscribes with indications where the characteristic indicates (0x2A35 does).
        await self._client.start_notify(uuid, lambda _sender, data: callback(bytes(data)))


def bleak_factory(config: BpCuffConfig) -> ClientFactory:
    """Return a factory that scans for the configured cuff with bleak."""

    async def find() -> BleClient | None:
        from bleak import BleakScanner

        def matches(device: object, adv: object) -> bool:
            address = str(getattr(device, "address", "")).upper()
            name = str(getattr(device, "name", "") or "")
            if config.address:
                return address == config.address.upper()
            return bool(config.name_prefix) and name.startswith(str(config.name_prefix))

        device = await BleakScanner.find_device_by_filter(matches, timeout=config.scan_interval_s)
        return None if device is None else BleakCuffClient(device)

    return find


class CuffState:
    """Keys of readings already delivered and the last RACP sequence number, kept on disk."""

    LIMIT = 4096  # far more than any cuff's memory, so a full memory dump is still recognised

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.last_sequence: int | None = None
        self.dirty = False

    def load(self) -> str | None:
        """Read the state file; return a complaint if it was unreadable (then start empty)."""
        if self.path is None or not self.path.exists():
            return None
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            keys = raw["seen"]
            last = raw["last_sequence"]
            if raw.get("v") != 1 or not isinstance(keys, list) or \
                    not all(isinstance(k, str) and len(k) <= 64 for k in keys) or \
                    not (last is None or (isinstance(last, int) and 0 <= last <= 0xFFFF)):
                raise ValueError("unexpected content")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"{self.path}: {exc}"
        self.seen = OrderedDict.fromkeys(keys[-self.LIMIT:])
        self.last_sequence = last
        return None

    def remember(self, key: str) -> None:
        self.seen[key] = None
        while len(self.seen) > self.LIMIT:
            self.seen.popitem(last=False)
        self.dirty = True

    def save(self) -> None:
        """Write the state atomically (temp file, fsync, rename)."""
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = json.dumps({"v": 1, "last_sequence": self.last_sequence, "seen": list(self.seen)})
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self.dirty = False


class BpCuffDriver:
    """Collect measurements whenever the cuff wakes up and connects."""

    POLL_S = 0.1  # how soon a cuff's own disconnect is noticed

    def __init__(self, config: BpCuffConfig, factory: ClientFactory | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.device_id = config.id
        self._factory = factory or bleak_factory(config)
        self._clock = clock
        self._zone = ZoneInfo(config.timezone)
        self.errors: dict[str, int] = {"decode": 0, "link_lost": 0, "duplicates": 0}
        self.features: dict[str, bool] = {}
        path = config.state_dir / f"{config.id}.json" if config.state_dir else None
        self.state = CuffState(path)
        complaint = self.state.load()
        if complaint:
            self._count("state")
            log.warning("%s: state file ignored, repeats possible: %s", self.device_id, complaint)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._save_state()

    def _count(self, key: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1

    def _reject(self, exc: CuffDataError) -> list[DriverItem]:
        self.errors["decode"] += 1
        self._count(f"rejected_{exc.reason}")
        log.warning("%s: rejected %s: %s", self.device_id, exc.reason, exc)
        return []

    def decode(self, data: bytes, t: float) -> list[DriverItem]:
        """Turn one 0x2A35 value into a `bp` reading (and nothing for a repeat or a reject)."""
        try:
            return self._accept(decode_measurement(data), t)
        except CuffDataError as exc:
            return self._reject(exc)

    def decode_enhanced(self, data: bytes, t: float) -> list[DriverItem]:
        """Turn one 0x2B34 value into a `bp` reading (and nothing for a repeat or a reject)."""
        try:
            return self._accept(decode_enhanced_measurement(data), t)
        except CuffDataError as exc:
            return self._reject(exc)

    def decode_record(self, sequence: int, uuid16: int, value: bytes,
                      t: float) -> list[DriverItem]:
        """Turn one stored record fetched by RACP into a reading; note its sequence number."""
        self.state.last_sequence = sequence
        self.state.dirty = True
        if uuid16 == 0x2A35:
            return self.decode(value, t)
        if uuid16 == 0x2B34:
            return self.decode_enhanced(value, t)
        return self._reject(CuffDataError("record", f"record {sequence} holds 0x{uuid16:04x}, "
                                                    "not a measurement"))

    def _measured_at(self, m: BloodPressureMeasurement) -> float | None:
        if m.timestamp is None:
            return None
        if m.timestamp.tzinfo is None:
            return m.timestamp.replace(tzinfo=self._zone).timestamp()
        return m.timestamp.timestamp()

    def _accept(self, m: BloodPressureMeasurement, t: float) -> list[DriverItem]:
        measured = self._measured_at(m)
        if measured is not None:
            # The cuff's own time and values name the measurement, whichever way it arrived.
            material = repr((round(measured), m.systolic_mmhg, m.diastolic_mmhg,
                             m.mean_arterial_mmhg, m.pulse_bpm, m.user_id, m.status))
            key = hashlib.blake2b(material.encode(), digest_size=12).hexdigest()
            if key in self.state.seen:
                self.errors["duplicates"] += 1
                return []
            self.state.remember(key)
        fields: dict[str, bool | int | float | str] = {
            "systolic_mmhg": m.systolic_mmhg, "diastolic_mmhg": m.diastolic_mmhg,
            "body_movement": m.body_movement, "cuff_loose": m.cuff_loose,
            "irregular_pulse": m.irregular_pulse, "improper_position": m.improper_position}
        if m.mean_arterial_mmhg is not None:
            fields["map_mmhg"] = m.mean_arterial_mmhg
        if m.pulse_bpm is not None:
            fields["pulse_bpm"] = m.pulse_bpm
        if m.user_id is not None:
            fields["user_id"] = m.user_id
        if m.pulse_range is not None:
            fields["pulse_range"] = m.pulse_range
        return [Reading(self.device_id, "bp", t if measured is None else measured, fields)]

    def _save_state(self) -> None:
        try:
            self.state.save()
        except OSError as exc:
            self._count("state")
            log.warning("%s: cannot write state file: %s", self.device_id, exc)

    async def _subscribe(self, client: BleClient,
                         queue: asyncio.Queue[tuple[str, bytes]]) -> bool:
        """Subscribe to what the cuff offers and ask for stored records; return if "all"."""

        def put(kind: str) -> Callable[[bytes], None]:
            return lambda data: queue.put_nowait((kind, data))

        # One measurement characteristic, so a cuff exposing both sends each reading once.
        if client.has_characteristic(ENHANCED_BLOOD_PRESSURE_MEASUREMENT):
            await client.start_notify(ENHANCED_BLOOD_PRESSURE_MEASUREMENT, put("enhanced"))
        else:
            await client.start_notify(BLOOD_PRESSURE_MEASUREMENT, put("bp"))
        if client.has_characteristic(RECORD_ACCESS_CONTROL_POINT) and \
                client.has_characteristic(BLOOD_PRESSURE_RECORD):
            await client.start_notify(BLOOD_PRESSURE_RECORD, put("record"))
            await client.start_notify(RECORD_ACCESS_CONTROL_POINT, put("racp"))
            request = self._racp_request()
            await client.write_gatt_char(RECORD_ACCESS_CONTROL_POINT, request)
            return request == racp_report_all()
        return True

    def _racp_request(self) -> bytes:
        last = self.state.last_sequence
        if last is None or last >= 0xFFFF:  # nothing fetched yet, or the counter wraps
            return racp_report_all()
        return racp_report_from(last + 1)

    async def _on_racp(self, client: BleClient, data: bytes, asked_all: bool) -> bool:
        """Handle a RACP indication; return whether "all records" has been asked for."""
        try:
            response = decode_racp_response(data)
        except CuffDataError as exc:
            self._reject(exc)
            return asked_all
        if response.request != RACP_REPORT_STORED_RECORDS:
            return asked_all
        if response.code in RACP_NOT_SUPPORTED and not asked_all:
            # The cuff cannot filter by sequence number: ask for everything, repeats are dropped.
            await client.write_gatt_char(RECORD_ACCESS_CONTROL_POINT, racp_report_all())
            return True
        if response.code not in (RACP_SUCCESS, RACP_NO_RECORDS):
            self._count("racp")
            log.warning("%s: stored records refused, RACP code %d", self.device_id,
                        response.code)
        return asked_all

    async def _session(self, client: BleClient) -> AsyncIterator[DriverItem]:
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        await client.connect()
        if client.has_characteristic(BLOOD_PRESSURE_FEATURE):
            try:
                self.features = decode_features(await client.read_gatt_char(
                    BLOOD_PRESSURE_FEATURE))
            except CuffDataError as exc:
                self._reject(exc)
        now = datetime.now(UTC).astimezone(self._zone).replace(tzinfo=None)
        if self.config.variant == "and" and client.has_characteristic(AND_CUSTOM):
            # obniz UA651BLE: the memory request, then the clock, then indications.
            await client.write_gatt_char(AND_CUSTOM, AND_REQUEST_MEMORY)
        if self.config.variant == "and" and client.has_characteristic(DATE_TIME):
            await client.write_gatt_char(DATE_TIME, date_time_value(now))
        elif client.has_characteristic(CURRENT_TIME):
            await client.write_gatt_char(CURRENT_TIME, current_time_value(now))
        assembler = RecordAssembler()
        e2e_crc = self.features.get("e2e_crc", False)
        asked_all = await self._subscribe(client, queue)
        yield DeviceHealth(self.device_id, self._clock(), True, errors=dict(self.errors))
        while client.is_connected or not queue.empty():
            try:
                kind, data = await asyncio.wait_for(queue.get(), self.POLL_S)
            except TimeoutError:
                continue
            items: list[DriverItem] = []
            if kind == "bp":
                items = self.decode(data, self._clock())
            elif kind == "enhanced":
                items = self.decode_enhanced(data, self._clock())
            elif kind == "record":
                try:
                    whole = assembler.feed(decode_record_segment(data, e2e_crc=e2e_crc))
                except CuffDataError as exc:
                    self._reject(exc)
                    continue
                if whole is not None:
                    items = self.decode_record(*whole, self._clock())
            elif kind == "racp":
                asked_all = await self._on_racp(client, data, asked_all)
            for item in items:
                yield item
            # Only once the reading has been handed on is it marked delivered on disk.
            self._save_state()
        self._save_state()

    async def __aiter__(self) -> AsyncIterator[DriverItem]:
        faulted = False
        while True:
            client = await self._factory()
            if client is None:  # asleep between measurements: normal for a cuff
                await asyncio.sleep(self.config.scan_interval_s * random.uniform(0.8, 1.2))
                continue
            readings = 0
            try:
                async for item in self._session(client):
                    if isinstance(item, Reading):
                        readings += 1
                        if faulted:
                            faulted = False
                            yield DeviceEvent(self.device_id, "device_recovered", item.t, {})
                    yield item
            except (BleakError, OSError, TimeoutError, EOFError) as exc:
                self.errors["link_lost"] += 1
                if not faulted:
                    faulted = True
                    yield DeviceEvent(self.device_id, "device_fault", self._clock(),
                                      {"reason": f"link lost: {exc}", "readings": readings})
            finally:
                with contextlib.suppress(Exception):  # the link may be gone already
                    await client.disconnect()
            yield DeviceHealth(self.device_id, self._clock(), False, errors=dict(self.errors))
            await asyncio.sleep(self.config.scan_interval_s * random.uniform(0.8, 1.2))
