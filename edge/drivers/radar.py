"""Seeed Studio 60 GHz mmWave radars on a UART (115200 8N1): MR60BHA1 (breathing, heart rate,
in-bed status) and MR60FDA1 (fall, long stationary residence).

Frame (Seeed's protocol for these models): `53 59 | control | command | length u16 BE |
data | checksum | 54 43`, checksum = low byte of the sum of every byte from the first 0x53 to
the last data byte. At start the driver asks the firmware version and refuses, with a
device_fault, a version whose command map it does not know (older MR60BHA1 firmware used
another map).
"""

from __future__ import annotations

import asyncio
import logging
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from edge.drivers.base import DeviceConfigBase, DeviceEvent, DriverItem, Reading
from edge.drivers.serial_link import SerialDriver, SerialOpener

log = logging.getLogger(__name__)

HEAD = b"\x53\x59"
TAIL = b"\x54\x43"
MAX_DATA = 256
VERSION_QUERY = (0x02, 0xA4)


def checksum(body: bytes) -> int:
    """Return the low byte of the sum of `body` (head through the last data byte)."""
    return sum(body) & 0xFF


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
    """Split a byte stream into checked frames; resynchronise on the head after damage."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.counters = {"frames": 0, "bad_checksum": 0, "bad_tail": 0, "oversize": 0,
                         "false_head": 0, "garbage_bytes": 0}

    def reset(self) -> None:
        self._buffer.clear()

    def feed(self, data: bytes) -> list[RadarFrame]:
        self._buffer += data
        buf, counters, frames = self._buffer, self.counters, []
        while True:
            start = buf.find(HEAD)
            if start < 0:
                keep = 1 if buf[-1:] == HEAD[:1] else 0
                counters["garbage_bytes"] += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                counters["garbage_bytes"] += start
                del buf[:start]
            if len(buf) < 6:
                break
            (length,) = struct.unpack_from(">H", buf, 4)
            if length > MAX_DATA:
                counters["oversize"] += 1
                counters["garbage_bytes"] += 1
                del buf[:1]
                continue
            total = 6 + length + 3
            if len(buf) < total:
                # A false head (noise, a damaged length) must not hold back a complete
                # report already waiting behind it, such as a fall.
                later = self._next_valid(buf)
                if later is None:
                    break
                counters["false_head"] += 1
                counters["garbage_bytes"] += later
                del buf[:later]
                continue
            body = bytes(buf[: 6 + length])
            if buf[6 + length] != checksum(body):
                counters["bad_checksum"] += 1
                counters["garbage_bytes"] += 1
                del buf[:1]
                continue
            if bytes(buf[7 + length : total]) != TAIL:
                counters["bad_tail"] += 1
                counters["garbage_bytes"] += 1
                del buf[:1]
                continue
            del buf[:total]
            counters["frames"] += 1
            frames.append(RadarFrame(body[2], body[3], body[6:]))
        return frames

    @staticmethod
    def _next_valid(buf: bytearray) -> int | None:
        """Offset of the first later head in `buf` that starts a complete, valid frame."""
        start = buf.find(HEAD, 1)
        while 0 <= start <= len(buf) - 6:
            (length,) = struct.unpack_from(">H", buf, start + 4)
            end = start + 6 + length + 3
            if (length <= MAX_DATA and end <= len(buf)
                    and buf[start + 6 + length] == checksum(bytes(buf[start:start + 6 + length]))
                    and bytes(buf[end - 2:end]) == TAIL):
                return start
            start = buf.find(HEAD, start + 1)
        return None


MOTION = {0: "none", 1: "stationary", 2: "moving"}
BREATHING = {1: "normal", 2: "fast", 3: "slow", 4: "none"}
BED = {0: "out", 1: "in", 2: "none"}


def decode_frame(frame: RadarFrame, device: str, t: float) -> list[DriverItem]:
    """Turn one report into readings and events; raise ValueError for what makes no sense."""
    key, data = (frame.control, frame.command), frame.data
    if not data:
        raise ValueError(f"report 0x{frame.control:02x}/0x{frame.command:02x} has no data")
    value = data[0]

    def reading(**fields: bool | int | float | str) -> list[DriverItem]:
        return [Reading(device, "radar", t, fields)]

    if key == (0x80, 0x01):
        return reading(presence=bool(value))
    if key == (0x80, 0x02):
        if value not in MOTION:
            raise ValueError(f"motion {value} is not a known state")
        return reading(motion=MOTION[value])
    if key == (0x80, 0x03):
        if value > 100:
            raise ValueError(f"body movement {value} is above 100")
        return reading(body_movement=value)
    if key == (0x81, 0x02):
        return reading(breathing_rate_bpm=value)
    if key == (0x81, 0x01):
        if value not in BREATHING:
            raise ValueError(f"breathing state {value} is not known")
        return reading(breathing_state=BREATHING[value])
    if key == (0x85, 0x02):
        return reading(heart_rate_bpm=value)
    if key == (0x84, 0x01):
        if value not in BED:
            raise ValueError(f"bed state {value} is not known")
        return reading(in_bed=BED[value])
    if key == (0x84, 0x0E):
        return [DeviceEvent(device, "radar_absence", t, {"code": value})] if value == 2 else []
    if key == (0x83, 0x01):
        items = reading(fall=bool(value))
        if value == 1:
            items.append(DeviceEvent(device, "radar_fall", t, {}))
        return items
    if key == (0x83, 0x05):
        items = reading(stationary_residence=bool(value))
        if value == 1:
            items.append(DeviceEvent(device, "radar_stationary", t, {}))
        return items
    return []  # reports this driver does not use (settings echoes, heartbeats of other maps)


class RadarConfig(DeviceConfigBase):
    """A Seeed 60 GHz radar on a serial port."""

    type: Literal["radar"] = Field(description="Driver type.")
    model: Literal["mr60bha1", "mr60fda1"] = Field(description="Which radar.")
    port: str = Field(description="Serial port path or pyserial URL.")
    baudrate: int = Field(115200, gt=0, description="UART speed (the radars use 115200).")
    known_firmware: str = Field(
        r"^G60(SM|FD)1\w*v0[2-9]", description="Regular expression of firmware versions whose "
        "command map this driver knows; others are refused with a device_fault.")
    silent_after_s: float = Field(60.0, gt=0, description="Silence that raises device_silent.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest wait between reconnects.")


class RadarDriver(SerialDriver):
    """Read a radar; refuse firmware with an unknown command map."""

    config: RadarConfig

    def __init__(self, config: RadarConfig, open_serial: SerialOpener | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(config, open_serial, clock)
        self.decoder = RadarDecoder()
        self.firmware: str | None = None
        self.refused = False
        self._known = re.compile(config.known_firmware)

    def frames_seen(self) -> int:
        return self.decoder.counters["frames"] if self.firmware and not self.refused else 0

    def on_reconnect(self) -> None:
        self.decoder.reset()
        self.firmware, self.refused = None, False

    def error_counts(self) -> dict[str, int]:
        return {**self.decoder.counters, **self.errors}

    async def on_open(self, writer: asyncio.StreamWriter) -> list[DriverItem]:
        writer.write(encode_frame(*VERSION_QUERY, b"\x0f"))
        await writer.drain()
        return []

    def handle_bytes(self, data: bytes, t: float) -> list[DriverItem]:
        items: list[DriverItem] = []
        for frame in self.decoder.feed(data):
            if (frame.control, frame.command) == VERSION_QUERY:
                self.firmware = frame.data.decode("ascii", errors="replace").strip("\x00 ")
                if not self._known.search(self.firmware):
                    self.refused = True
                    items.append(DeviceEvent(self.device_id, "device_fault", t, {
                        "reason": f"firmware {self.firmware!r} has a command map this driver "
                                  "does not know; its reports are ignored"}))
                else:
                    items.append(Reading(self.device_id, "device_info", t,
                                         {"firmware": self.firmware, "model": self.config.model}))
                continue
            if self.firmware is None or self.refused:
                self.errors["ignored"] = self.errors.get("ignored", 0) + 1
                continue
            try:
                items.extend(decode_frame(frame, self.device_id, t))
            except ValueError as exc:
                self.errors["decode"] += 1
                log.warning("%s: skipped report: %s", self.device_id, exc)
        return items
