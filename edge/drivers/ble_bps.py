"""Blood Pressure Service (0x1810) bytes: pure decoding and encoding, no I/O.

Everything here raises only `CuffDataError`: the measurement decoders (0x2A35, 0x2B34), the
record segments (0x2B36) and their assembly, the RACP (0x2A52) requests and responses, and
the date-time values (0x2A2B, 0x2A08) a cuff's clock is set with. The driver that speaks
them to a cuff is `edge/drivers/bp_cuff.py`.

Sources: Bluetooth GATT Specification Supplement (GSS), Blood Pressure Measurement 0x2A35,
Enhanced Blood Pressure Measurement 0x2B34, Blood Pressure Record 0x2B36, Blood Pressure
Feature 0x2A49 and Record Access Control Point 0x2A52; Blood Pressure Service 1.1; IEEE
11073-20601 for SFLOAT; NordicSemiconductor/Android-BLE-Common-Library
`ble-common/.../callback/bps/BloodPressureMeasurementDataCallback.java` (minimum length only,
extra bytes ignored) and `.../callback/RecordAccessControlPointDataCallback.java`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal


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
