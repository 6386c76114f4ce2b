"""Blood-pressure cuffs over Bluetooth LE: the Blood Pressure Service (0x1810).

Decoding is pure (`decode_measurement`). The radio sits behind a small client seam
(`BleClient`) so the simulator in `firmware-sim/bp_cuff.py` can stand in for it; the default
client is `bleak`. Layout and constants: Bluetooth GATT Specification Supplement, Blood
Pressure Measurement 0x2A35, and IEEE 11073-20601 for SFLOAT (see docs/references).
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, Self
from zoneinfo import ZoneInfo

from bleak.exc import BleakError
from pydantic import Field, model_validator

from edge.drivers.base import DeviceConfigBase, DeviceEvent, DeviceHealth, DriverItem, Reading

log = logging.getLogger(__name__)


def _uuid16(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


BLOOD_PRESSURE_MEASUREMENT = _uuid16(0x2A35)  # indicated
INTERMEDIATE_CUFF_PRESSURE = _uuid16(0x2A36)  # notified
BLOOD_PRESSURE_FEATURE = _uuid16(0x2A49)
CURRENT_TIME = _uuid16(0x2A2B)  # Current Time Service 0x1805
DATE_TIME = _uuid16(0x2A08)  # A&D cuffs take their clock here, inside 0x1810
KPA_TO_MMHG = 7.50062

_FLAG_KPA, _FLAG_TIME, _FLAG_PULSE, _FLAG_USER, _FLAG_STATUS = 0x01, 0x02, 0x04, 0x08, 0x10
# IEEE 11073-20601 SFLOAT special values.
_SFLOAT_SPECIAL = {0x07FF: "NaN", 0x0800: "NRes", 0x07FE: "+INF", 0x0802: "-INF",
                   0x0801: "reserved"}
_PULSE_RANGE = {0: "in_range", 1: "above", 2: "below"}


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
    """One decoded measurement, pressures in mmHg."""

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


def decode_measurement(data: bytes, *, big_endian_pulse_status: bool = False,
                       always_user_id: bool = False) -> BloodPressureMeasurement:
    """Decode a Blood Pressure Measurement (0x2A35) value; raise ValueError with the reason.

    `big_endian_pulse_status` and `always_user_id` describe the Beurer variant (BM85, BM59),
    which sends pulse and status big-endian and always includes a user id byte.
    """
    if len(data) < 7:
        raise ValueError(f"truncated: {len(data)} bytes, a measurement has at least 7")
    flags = data[0]
    has_time = bool(flags & _FLAG_TIME)
    has_pulse = bool(flags & _FLAG_PULSE)
    has_user = bool(flags & _FLAG_USER) or always_user_id
    has_status = bool(flags & _FLAG_STATUS)
    expected = 7 + 7 * has_time + 2 * has_pulse + has_user + 2 * has_status
    if len(data) < expected:
        raise ValueError(f"truncated: {len(data)} bytes, flags 0x{flags:02x} need {expected}")
    if len(data) > expected:
        raise ValueError(f"{len(data) - expected} unexpected trailing bytes for flags "
                         f"0x{flags:02x}")
    scale = KPA_TO_MMHG if flags & _FLAG_KPA else 1.0
    raw_sys, raw_dia, raw_map = struct.unpack_from("<HHH", data, 1)
    systolic, diastolic, mean = sfloat(raw_sys), sfloat(raw_dia), sfloat(raw_map)
    if systolic is None or diastolic is None:
        raise ValueError("systolic or diastolic is not a number")
    offset = 7
    timestamp = None
    if has_time:
        year, month, day, hour, minute, second = struct.unpack_from("<HBBBBB", data, offset)
        offset += 7
        if year and month and day:
            try:
                timestamp = datetime(year, month, day, hour, minute, second)
            except ValueError as exc:
                raise ValueError(f"invalid time stamp: {exc}") from exc
    endian = ">" if big_endian_pulse_status else "<"
    pulse = None
    if has_pulse:
        (raw_pulse,) = struct.unpack_from(f"{endian}H", data, offset)
        pulse = sfloat(raw_pulse)
        offset += 2
    user_id = None
    if has_user:
        user_id = None if data[offset] == 0xFF else data[offset]
        offset += 1
    status = None
    if has_status:
        (status,) = struct.unpack_from(f"{endian}H", data, offset)
    systolic_mmhg = round(systolic * scale, 1)
    diastolic_mmhg = round(diastolic * scale, 1)
    if not 0 < diastolic_mmhg <= systolic_mmhg <= 400:
        raise ValueError(f"implausible pressures {systolic_mmhg}/{diastolic_mmhg} mmHg")
    return BloodPressureMeasurement(
        systolic_mmhg=systolic_mmhg,
        diastolic_mmhg=diastolic_mmhg,
        mean_arterial_mmhg=None if mean is None else round(mean * scale, 1),
        pulse_bpm=pulse,
        timestamp=timestamp,
        user_id=user_id,
        body_movement=bool(status and status & 0x01),
        cuff_loose=bool(status and status & 0x02),
        irregular_pulse=bool(status and status & 0x04),
        pulse_range=None if status is None else _PULSE_RANGE.get((status >> 3) & 0x03,
                                                                  "reserved"),
        improper_position=bool(status and status & 0x20),
    )


def decode_cuff_pressure(data: bytes) -> float | None:
    """Return the live cuff pressure in mmHg from an Intermediate Cuff Pressure (0x2A36) value."""
    if len(data) < 3:
        raise ValueError(f"truncated: {len(data)} bytes")
    value = sfloat(struct.unpack_from("<H", data, 1)[0])
    scale = KPA_TO_MMHG if data[0] & _FLAG_KPA else 1.0
    return None if value is None else round(value * scale, 1)


def decode_features(data: bytes) -> dict[str, bool]:
    """Decode the Blood Pressure Feature (0x2A49) bits."""
    if len(data) < 2:
        raise ValueError(f"truncated: {len(data)} bytes")
    bits = struct.unpack_from("<H", data)[0]
    names = ("body_movement_detection", "cuff_fit_detection", "irregular_pulse_detection",
             "pulse_rate_range_detection", "measurement_position_detection", "multiple_bonds")
    return {name: bool(bits >> i & 1) for i, name in enumerate(names)}


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
    variant: Literal["standard", "and", "beurer"] = Field(
        "standard", description="'and': A&D (clock via 0x2A08); 'beurer': big-endian pulse and "
                                "status, always a user id byte.")
    timezone: str = Field("Asia/Shanghai", description="Zone the cuff's clock is set to.")
    scan_interval_s: float = Field(5.0, gt=0, description="How often to look for the cuff.")
    silent_after_s: float = Field(
        3 * 86400.0, gt=0, description="No measurement for this long raises device_silent "
                                       "(a cuff is used a few times a day, not continuously).")

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


class BpCuffDriver:
    """Collect measurements whenever the cuff wakes up and connects."""

    def __init__(self, config: BpCuffConfig, factory: ClientFactory | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.device_id = config.id
        self._factory = factory or bleak_factory(config)
        self._clock = clock
        self._zone = ZoneInfo(config.timezone)
        self.errors: dict[str, int] = {"decode": 0, "link_lost": 0, "duplicates": 0}
        self.features: dict[str, bool] = {}
        self._seen: OrderedDict[tuple[object, ...], None] = OrderedDict()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def decode(self, data: bytes, t: float) -> list[DriverItem]:
        """Turn one 0x2A35 value into a `bp` reading (and nothing for a repeat)."""
        try:
            m = decode_measurement(data, big_endian_pulse_status=self.config.variant == "beurer",
                                   always_user_id=self.config.variant == "beurer")
        except ValueError as exc:
            self.errors["decode"] += 1
            log.warning("%s: skipped measurement: %s", self.device_id, exc)
            return []
        key = (m.timestamp, m.systolic_mmhg, m.diastolic_mmhg, m.pulse_bpm, m.user_id)
        if m.timestamp is not None and key in self._seen:
            self.errors["duplicates"] += 1  # a record sent again after a dropped link
            return []
        self._seen[key] = None
        while len(self._seen) > 256:
            self._seen.popitem(last=False)
        measured = (m.timestamp.replace(tzinfo=self._zone).timestamp()
                    if m.timestamp is not None else t)
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
        return [Reading(self.device_id, "bp", measured, fields)]

    async def _session(self, client: BleClient) -> AsyncIterator[DriverItem]:
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        await client.connect()
        if client.has_characteristic(BLOOD_PRESSURE_FEATURE):
            self.features = decode_features(await client.read_gatt_char(BLOOD_PRESSURE_FEATURE))
        now = datetime.now(UTC).astimezone(self._zone).replace(tzinfo=None)
        if self.config.variant == "and" and client.has_characteristic(DATE_TIME):
            await client.write_gatt_char(DATE_TIME, date_time_value(now))
        elif client.has_characteristic(CURRENT_TIME):
            await client.write_gatt_char(CURRENT_TIME, current_time_value(now))
        await client.start_notify(BLOOD_PRESSURE_MEASUREMENT,
                                  lambda data: queue.put_nowait(("bp", data)))
        if client.has_characteristic(INTERMEDIATE_CUFF_PRESSURE):
            await client.start_notify(INTERMEDIATE_CUFF_PRESSURE,
                                      lambda data: queue.put_nowait(("cuff", data)))
        yield DeviceHealth(self.device_id, self._clock(), True, errors=dict(self.errors))
        while client.is_connected or not queue.empty():
            try:
                kind, data = await asyncio.wait_for(queue.get(), 0.5)
            except TimeoutError:
                continue
            if kind == "bp":
                for item in self.decode(data, self._clock()):
                    yield item

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
                try:
                    await client.disconnect()
                except Exception as exc:  # the link may be gone already
                    log.debug("%s: disconnect: %s", self.device_id, exc)
            yield DeviceHealth(self.device_id, self._clock(), False, errors=dict(self.errors))
            await asyncio.sleep(self.config.scan_interval_s * random.uniform(0.8, 1.2))
