"""Seeed Studio 60 GHz mmWave radars on a UART (115200 8N1): MR60BHA1 (breathing, heart rate,
in-bed status) and MR60FDA1 (fall, long stationary residence).

Frame (Seeed's protocol for these models): `53 59 | control | command | length u16 BE |
data | checksum | 54 43`, checksum = low byte of the sum of every byte from the first 0x53 to
the last data byte.

Every report is decoded from the first byte on, whatever the firmware: a fall radar reports a
fall once, when its state changes, so a report held back is a fall never told. The firmware
version is asked for provenance and health only: the query is repeated with backoff, and sent
again at once when the radar says it has finished starting; a radar that never answers raises
one device_fault (and device_recovered when it answers). A version the makers do not document
is noted once, at low severity, and decoding goes on.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from edge.drivers.base import SerialDeviceConfig
from edge.drivers.framing import FrameFormat, FrameSplitter
from edge.drivers.serial_link import SerialDriver, SerialOpener
from edge.items import DeviceEvent, DriverItem, Observation

log = logging.getLogger(__name__)

HEAD = b"\x53\x59"
TAIL = b"\x54\x43"
MAX_DATA = 256
QUERY = b"\x0f"  # the data byte of every query frame (Seeed wiki, the version query below)
# Product information / firmware version: `53 59 02 A4 00 01 0F 62 54 43`
# (Seeed-Studio/wiki-documents docs/Sensor/mmWave_radar_sensor/Radar_MR60BHA1.md and
# Radar_MR60FDA1.md, "Update firmware via UART").
VERSION_QUERY = (0x02, 0xA4)
# Heartbeat report, sent about once a minute: `53 59 01 01 00 01 0F BE 54 43`
# (DuncanIdahoCT/espresence-mr60bha1-mmwave-sensor static/project.md, a capture from the radar).
HEARTBEAT = (0x01, 0x01)
# Working status / initialisation complete, data 0x0F (MicRadar R60ABD1 protocol, as decoded in
# zomco/mmwave-esphome-component components/r60abd1/r60abd1.c, CTRL_WORK_STATUS 0x05 cmd 0x01).
INIT_COMPLETE = (0x05, 0x01)

# Version answers the makers document: Seeed wiki Radar_MR60BHA1.md ("at least version
# G60SM1SYv010003", example answer G60SM1SYv010009), Radar_MR60FDA1.md ("at least version
# G60FD1SYv010102", example answer G60FD1SYv010104); the R60ABD1 (the MR60BHA1's radar by
# MicRadar) ships G60SM1SYv010204 (zomco/mmwave-esphome-component docs/r60abd1/README.md).
DOCUMENTED_FIRMWARE = ("G60SM1SYv010003", "G60SM1SYv010009", "G60SM1SYv010204",
                       "G60FD1SYv010102", "G60FD1SYv010104")
# The version names the radar's function: SM = breathing/sleep (MR60BHA1), FD = fall (MR60FDA1).
MODEL_PREFIX = {"mr60bha1": "G60SM1", "mr60fda1": "G60FD1"}
MAX_VERSION_CHARS = 32


def checksum(body: bytes) -> int:
    """Return the low byte of the sum of `body` (head through the last data byte)."""
    return sum(body) & 0xFF


def _checksum_holds(frame: bytes) -> bool:
    return frame[-1] == checksum(frame[:-1])


# `53 59 | control | command | length u16 BE | data | checksum | 54 43`
RADAR_FORMAT = FrameFormat(
    head=HEAD, length_offset=4, length_field=struct.Struct(">H"), max_length=MAX_DATA,
    overhead=len(HEAD) + 4 + 1 + len(TAIL), check=_checksum_holds, trailer=TAIL,
    bad_check_name="bad_checksum", false_head_name="false_head")


def encode_frame(control: int, command: int, data: bytes) -> bytes:
    """Return a complete radar frame."""
    body = HEAD + bytes([control, command]) + struct.pack(">H", len(data)) + data
    return body + bytes([checksum(body)]) + TAIL


@dataclass(frozen=True, slots=True)
class RadarFrame:
    control: int
    command: int
    data: bytes


class RadarDecoder:
    """Split a byte stream into checked radar frames; resynchronise on the head after damage."""

    def __init__(self) -> None:
        self._splitter = FrameSplitter(RADAR_FORMAT)
        self.counters = self._splitter.counters

    def reset(self) -> None:
        self._splitter.reset()

    def counts(self) -> dict[str, int]:
        """Return the splitter's counters under the radar's names."""
        return self.counters.as_dict(RADAR_FORMAT)

    def feed(self, data: bytes) -> list[RadarFrame]:
        return [RadarFrame(raw[2], raw[3], raw[6:-3]) for raw in self._splitter.feed(data)]


class ReportRejected(ValueError):
    """A report that makes no sense; `counter` names the error counter it adds to."""

    def __init__(self, counter: str, message: str) -> None:
        super().__init__(message)
        self.counter = counter


class NoValue(Exception):
    """A report that carries no measurement (a settling radar's 0 bpm)."""


@dataclass(frozen=True, slots=True)
class VitalRanges:
    """Rates the radar may report; a byte outside is rejected, 0 means "no value yet"."""

    heart_rate: tuple[int, int]
    breathing_rate: tuple[int, int]


# Enumerations: Seeed-Studio-MR60BHA1-Sensor 60ghzbreathheart.h and Seeed-Studio-MR60FDA1-Sersor
# 60ghzfalldetection.h (limengdu), which the Seeed wiki links as the radars' Arduino libraries.
MOTION = {0: "none", 1: "stationary", 2: "moving"}
BREATHING = {1: "normal", 2: "fast", 3: "slow", 4: "none"}
BED = {0: "out", 1: "in", 2: "none"}
# Sleep abnormality (0x84/0x0E): 0 under 4 h, 1 over 12 h, 2 nobody for a long time, 3 none.
ABNORMAL = {0: "sleep_under_4h", 1: "sleep_over_12h", 2: "absent_long", 3: "none"}
FLAG = {0: False, 1: True}
BODY_MOVEMENT_MAX = 100  # body movement parameter 0-100 (R60ABD1 protocol, r60abd1.cpp 0x80/0x03)
# Wider than any radar documents (heart 0-100 or 60-120, breathing 0-20 or 0-35): a radar
# that reports a true 130 bpm must raise tachycardia, not vanish as "out of range". The
# bounds only keep out bytes no human heart or chest could produce.
DEFAULT_RANGES = VitalRanges(heart_rate=(1, 250), breathing_rate=(1, 70))


def _enum(table: Mapping[int, object], value: int, what: str) -> object:
    if value not in table:
        raise ReportRejected("out_of_range", f"{what} {value} is not a documented value")
    return table[value]


def _rate(value: int, bounds: tuple[int, int], what: str) -> int:
    if value == 0:
        raise NoValue(f"{what} 0: the radar has no value yet")
    low, high = bounds
    if not low <= value <= high:
        raise ReportRejected("out_of_range", f"{what} {value} is outside {low}-{high}")
    return value


def decode_frame(frame: RadarFrame, device: str, t: float,
                 ranges: VitalRanges = DEFAULT_RANGES) -> list[DriverItem]:
    """Turn one report into readings and events.

    Raise ReportRejected for a report that makes no sense, NoValue for one that carries none.
    """
    key, data = (frame.control, frame.command), frame.data
    if key not in _ONE_BYTE:
        return []  # reports this driver does not use (waveforms, distance, sleep summaries)
    if len(data) != 1:
        raise ReportRejected("bad_length", f"report 0x{frame.control:02x}/0x{frame.command:02x} "
                                           f"carries {len(data)} bytes, not 1")
    value = data[0]

    def reading(**fields: bool | int | float | str) -> list[DriverItem]:
        return [Observation(device, "radar", t, fields)]

    if key == (0x80, 0x01):
        return reading(presence=bool(_enum(FLAG, value, "presence")))
    if key == (0x80, 0x02):
        return reading(motion=str(_enum(MOTION, value, "motion")))
    if key == (0x80, 0x03):
        if value > BODY_MOVEMENT_MAX:
            raise ReportRejected("out_of_range", f"body movement {value} is above 100")
        return reading(body_movement=value)
    if key == (0x81, 0x02):
        return reading(breathing_rate_bpm=_rate(value, ranges.breathing_rate, "breathing rate"))
    if key == (0x81, 0x01):
        return reading(breathing_state=str(_enum(BREATHING, value, "breathing state")))
    if key == (0x85, 0x02):
        return reading(heart_rate_bpm=_rate(value, ranges.heart_rate, "heart rate"))
    if key == (0x84, 0x01):
        return reading(in_bed=str(_enum(BED, value, "bed state")))
    if key == (0x84, 0x0E):
        _enum(ABNORMAL, value, "sleep abnormality")
        return [DeviceEvent(device, "radar_absence", t, {"code": value})] if value == 2 else []
    if key == (0x83, 0x01):
        items = reading(fall=bool(_enum(FLAG, value, "fall state")))
        if value == 1:
            items.append(DeviceEvent(device, "radar_fall", t, {}))
        return items
    # (0x83, 0x05): stationary residence
    items = reading(stationary_residence=bool(_enum(FLAG, value, "stationary residence")))
    if value == 1:
        items.append(DeviceEvent(device, "radar_stationary", t, {}))
    return items


_ONE_BYTE = frozenset({(0x80, 0x01), (0x80, 0x02), (0x80, 0x03), (0x81, 0x01), (0x81, 0x02),
                       (0x85, 0x02), (0x84, 0x01), (0x84, 0x0E), (0x83, 0x01), (0x83, 0x05)})


def decode_version(data: bytes) -> str:
    """Return the firmware version in a version answer; raise ReportRejected if it is not text."""
    text = data.rstrip(b"\x00 ")
    if not text or len(text) > MAX_VERSION_CHARS or not all(0x21 <= b <= 0x7E for b in text):
        raise ReportRejected("bad_version", f"version answer {data[:MAX_VERSION_CHARS]!r} "
                                            "is not a printable version string")
    return text.decode("ascii")


class VersionHandshake:
    """When to ask the firmware version: backoff between attempts, at once after start-up."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self._first_s, self._max_s = first_s, max_s
        self.attempts = 0
        self.answered = False
        self._next_due: float | None = None

    def start(self) -> None:
        """Forget the previous connection: ask as soon as possible."""
        self.attempts, self.answered, self._next_due = 0, False, None

    def due(self, now: float) -> bool:
        return not self.answered and (self._next_due is None or now >= self._next_due)

    def sent(self, now: float) -> None:
        self.attempts += 1
        self._next_due = now + min(self._first_s * 2 ** (self.attempts - 1), self._max_s)

    def radar_started(self, now: float) -> None:
        """The radar finished starting: earlier silence was not a failure; ask again now."""
        if not self.answered:
            self.attempts, self._next_due = 0, now


class RadarConfig(SerialDeviceConfig):
    """A Seeed 60 GHz radar on a serial port."""

    type: Literal["radar"] = Field(description="Driver type.")
    model: Literal["mr60bha1", "mr60fda1"] = Field(description="Which radar.")
    baudrate: int = Field(115200, gt=0, description="UART speed (the radars use 115200).")
    known_firmware: list[str] = Field(
        default_factory=lambda: list(DOCUMENTED_FIRMWARE),
        description="Firmware versions the makers document; another version is noted once "
                    "(firmware_unknown, low severity) and its reports are still decoded.")
    version_retry_s: float = Field(
        2.0, gt=0, description="Wait before asking the firmware version again; doubles each time.")
    version_retry_max_s: float = Field(
        60.0, gt=0, description="Longest wait between two firmware version queries.")
    version_attempts: int = Field(
        5, ge=1, description="Unanswered version queries after which one device_fault is raised.")
    heart_rate_bpm: tuple[int, int] = Field(
        DEFAULT_RANGES.heart_rate, description="Lowest and highest heart rate the radar may "
        "report (documented 0-100 in Seeed's wiki Radar_MR60BHA1.md, 60-120 in the R60ABD1 "
        "protocol); 0 is 'no value yet', others outside are rejected and counted.")
    breathing_rate_bpm: tuple[int, int] = Field(
        DEFAULT_RANGES.breathing_rate, description="Lowest and highest breathing rate the radar "
        "may report (documented 0-20 in Seeed's wiki, 0-35 in the R60ABD1 protocol); 0 is "
        "'no value yet', others outside are rejected and counted.")

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> RadarConfig:
        for name in ("heart_rate_bpm", "breathing_rate_bpm"):
            low, high = getattr(self, name)
            if not 1 <= low <= high <= 255:
                raise ValueError(f"{name} must be two bytes with 1 <= low <= high <= 255")
        return self


class RadarDriver(SerialDriver):
    """Read a radar: decode every report, ask its firmware version for the record."""

    config: RadarConfig

    def __init__(self, config: RadarConfig, open_serial: SerialOpener | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(config, open_serial, clock)
        self._monotonic = monotonic
        self.decoder = RadarDecoder()
        self.firmware: str | None = None
        self.handshake = VersionHandshake(config.version_retry_s, config.version_retry_max_s)
        self.ranges = VitalRanges(config.heart_rate_bpm, config.breathing_rate_bpm)
        self._version_faulted = False
        self._noted_firmware: set[str] = set()
        for counter in ("out_of_range", "bad_length", "no_value", "bad_version",
                        "version_queries", "unknown_firmware", "heartbeats", "radar_started"):
            self.errors[counter] = 0

    def frames_seen(self) -> int:
        return self.decoder.counters.frames

    def on_reconnect(self) -> None:
        self.decoder.reset()
        self.handshake.start()

    def error_counts(self) -> dict[str, int]:
        return {**self.decoder.counts(), **self.errors}

    async def on_open(self, writer: asyncio.StreamWriter) -> list[DriverItem]:
        self._ask_version(self._monotonic())
        await writer.drain()
        return []

    def _ask_version(self, now: float) -> None:
        if self._writer is not None:
            self._writer.write(encode_frame(*VERSION_QUERY, QUERY))
        self.handshake.sent(now)
        self.errors["version_queries"] += 1

    def _count(self, counter: str) -> None:
        self.errors[counter] += 1

    def handle_bytes(self, data: bytes, t: float) -> list[DriverItem]:
        items: list[DriverItem] = []
        now = self._monotonic()
        for frame in self.decoder.feed(data):
            key = (frame.control, frame.command)
            if key == VERSION_QUERY:
                items.extend(self._on_version(frame.data, t))
            elif key == INIT_COMPLETE:
                self._count("radar_started")
                self.handshake.radar_started(now)
            elif key == HEARTBEAT:
                self._count("heartbeats")
            else:
                try:
                    items.extend(decode_frame(frame, self.device_id, t, self.ranges))
                except NoValue as exc:
                    self._count("no_value")
                    log.debug("%s: %s", self.device_id, exc)
                except ReportRejected as exc:
                    self._count("decode")
                    self._count(exc.counter)
                    log.warning("%s: skipped report: %s", self.device_id, exc)
        hs = self.handshake
        if hs.due(now):
            if hs.attempts >= self.config.version_attempts and not self._version_faulted:
                self._version_faulted = True
                items.append(DeviceEvent(self.device_id, "device_fault", t, {
                    "reason": f"no answer to {hs.attempts} firmware version queries; "
                              "reports are still decoded"}))
            self._ask_version(now)
        return items

    def _on_version(self, data: bytes, t: float) -> list[DriverItem]:
        try:
            firmware = decode_version(data)
        except ReportRejected as exc:
            self._count("decode")
            self._count(exc.counter)
            log.warning("%s: %s", self.device_id, exc)
            return []
        self.firmware = firmware
        self.handshake.answered = True
        items: list[DriverItem] = [Observation(self.device_id, "device_info", t,
                                               {"firmware": firmware, "model": self.config.model})]
        if self._version_faulted:
            self._version_faulted = False
            items.append(DeviceEvent(self.device_id, "device_recovered", t,
                                     {"firmware": firmware}))
        if firmware in self._noted_firmware:
            return items
        self._noted_firmware.add(firmware)
        expected = MODEL_PREFIX[self.config.model]
        if firmware.startswith(tuple(MODEL_PREFIX.values())) and not firmware.startswith(expected):
            items.append(DeviceEvent(self.device_id, "device_fault", t, {
                "reason": f"firmware {firmware} is not {self.config.model} firmware "
                          f"({expected}…): the reports this device is installed for may never "
                          "come"}))
        elif firmware not in self.config.known_firmware:
            self._count("unknown_firmware")
            items.append(DeviceEvent(self.device_id, "firmware_unknown", t, {
                "firmware": firmware, "model": self.config.model,
                "note": "version not in the makers' documents; reports are decoded"},
                severity="low"))
        return items
