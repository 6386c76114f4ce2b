"""Blood-pressure cuffs over Bluetooth LE: the Blood Pressure Service (0x1810).

Decoding is pure and lives in `edge/drivers/ble_bps.py` (it raises only `CuffDataError`). The
radio sits behind a small client seam (`BleClient`) so the simulator in
`firmware-sim/bp_cuff.py` can stand in for it; the default client is `bleak`.

Sources: Blood Pressure Service 1.1; obniz/obniz `src/parts/Ble/UA651BLE/index.ts` for the
A&D UA-651BLE connect sequence.

Cuffs keep a memory. A cuff with RACP is asked for its stored records from the sequence number
after the last one delivered; an A&D cuff is asked for its memory and pushes it; others push
what they have not sent yet (some only their latest reading). A record delivered twice (after
a reconnect, by RACP and by indication, or after an agent restart) becomes one reading: the
driver keeps a key derived from each reading's own time stamp and values, and the last RACP
sequence number, in a small state file in `state_dir` (`edge/drivers/bp_cuff_state.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bleak.exc import BleakError
from pydantic import Field, field_validator, model_validator

from bedwatch.connection import Backoff, Link, Recovery
from edge.drivers.base import DeviceConfigBase
from edge.drivers.ble_bps import (
    BLOOD_PRESSURE_FEATURE,
    BLOOD_PRESSURE_MEASUREMENT,
    BLOOD_PRESSURE_RECORD,
    CURRENT_TIME,
    DATE_TIME,
    ENHANCED_BLOOD_PRESSURE_MEASUREMENT,
    RACP_NO_RECORDS,
    RACP_NOT_SUPPORTED,
    RACP_REPORT_STORED_RECORDS,
    RACP_SUCCESS,
    RECORD_ACCESS_CONTROL_POINT,
    BloodPressureMeasurement,
    CuffDataError,
    RecordAssembler,
    current_time_value,
    date_time_value,
    decode_enhanced_measurement,
    decode_features,
    decode_measurement,
    decode_racp_response,
    decode_record_segment,
    racp_report_all,
    racp_report_from,
)
from edge.drivers.bp_cuff_state import CuffState
from edge.items import DeviceEvent, DeviceHealth, DriverItem, Observation

log = logging.getLogger(__name__)

# A&D custom service 0x233BF000, characteristic 0x233BF001 (obniz/obniz UA651BLE/index.ts).
AND_CUSTOM = "233bf001-5a34-1b6d-975c-000d5690abe4"
# Size 2, type 0, command 0xE1: the memory request obniz writes first on connect (same file).
AND_REQUEST_MEMORY = bytes([0x02, 0x00, 0xE1])


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
        # A cuff is looked for at its scan interval, whether it slept or the link was lost.
        self.link = Link(config.id, Backoff(config.scan_interval_s, config.scan_interval_s))
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
        return [Observation(self.device_id, "bp", t if measured is None else measured, fields)]

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
        link = self.link
        while True:
            client = await self._factory()
            if client is None:  # asleep between measurements: normal for a cuff
                await link.wait()
                continue
            readings = 0
            try:
                async for item in self._session(client):
                    if isinstance(item, Observation):
                        readings += 1
                        # The link is back once a reading arrives, not when it connects.
                        for report in link.up():
                            if isinstance(report, Recovery):
                                yield DeviceEvent(self.device_id, "device_recovered", item.t, {})
                    yield item
            except (BleakError, OSError, TimeoutError, EOFError) as exc:
                self.errors["link_lost"] += 1
                if (fault := link.down(f"link lost: {exc}")) is not None:
                    yield DeviceEvent(self.device_id, "device_fault", self._clock(),
                                      {"reason": fault.reason, "readings": readings})
            finally:
                with contextlib.suppress(Exception):  # the link may be gone already
                    await client.disconnect()
            yield DeviceHealth(self.device_id, self._clock(), False, errors=dict(self.errors))
            await link.wait()
