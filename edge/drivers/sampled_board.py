"""Sensor boards that stream samples on the bedwatch framing: the bed board (load cells and a
piezo strip) and the pressure-grid floor mat. Frame types are in docs/serial-protocol.md.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.drivers.framing import Frame, FrameDecoder
from edge.drivers.serial_link import SerialDriver, SerialOpener
from edge.items import DeviceEvent, DriverItem, Observation, SampleBlock

log = logging.getLogger(__name__)

FRAME_HELLO = 0x01
FRAME_HEARTBEAT = 0x02
FRAME_SAMPLES = 0x20
FORMAT_INT24 = 1
FORMAT_U8 = 2
HELLO_HEAD = struct.Struct("<BBBBHHBB")  # type, fw ×3, channels, rate ×100, format, n calib
CALIBRATION = struct.Struct("<ff")  # scale (units per count), offset (units at count 0)
# Optional after the calibrations (bed boards from firmware 2.2): what the strip channel is and
# the exact rate, which the head's u16 cannot carry above 655.35 Hz.
HELLO_SENSOR = struct.Struct("<BI")  # sensor kind, sample rate in mHz
HEARTBEAT = struct.Struct("<IH")
SAMPLES_HEAD = struct.Struct("<IB")  # index of the first sample, samples in this frame
_BYTES = {FORMAT_INT24: 3, FORMAT_U8: 1}
# The strip's sensor kinds by their code in the hello; a hello without the extension says none.
SENSOR_KINDS = {1: "load_cell", 2: "piezo_film", 3: "fsr_strip", 4: "emfi", 5: "fibre_optic"}
SENSOR_CODES = {name: code for code, name in SENSOR_KINDS.items()}
# A board that names its sensor must sample the heartbeat's bursts (up to ~10 Hz, with room
# for the anti-alias filter) and no faster than the host can keep up with.
SENSOR_RATE_HZ = (50.0, 1000.0)
# Re-anchor sample times when the board's count and the host clock disagree by more.
MAX_CLOCK_SKEW_S = 1.0


@dataclass(frozen=True)
class BoardInfo:
    """What a board says about itself in its hello frame."""

    device_type: int
    firmware: str
    channels: int
    rate_hz: float
    sample_format: int
    scale: np.ndarray
    offset: np.ndarray
    sensor: str | None = None  # the strip channel's kind (SENSOR_KINDS), None when not said


def decode_hello(payload: bytes) -> BoardInfo:
    """Decode a hello frame; raise ValueError when it is inconsistent."""
    if len(payload) < HELLO_HEAD.size:
        raise ValueError(f"hello of {len(payload)} bytes, expected at least {HELLO_HEAD.size}")
    kind, major, minor, patch, channels, rate, fmt, n_cal = HELLO_HEAD.unpack_from(payload)
    if fmt not in _BYTES:
        raise ValueError(f"unknown sample format {fmt}")
    if channels == 0 or rate == 0:
        raise ValueError("a board with no channels or no sample rate")
    if n_cal not in (1, channels):
        raise ValueError(f"{n_cal} calibrations for {channels} channels")
    need = HELLO_HEAD.size + n_cal * CALIBRATION.size
    if len(payload) not in (need, need + HELLO_SENSOR.size):
        raise ValueError(f"hello of {len(payload)} bytes, expected {need} "
                         f"or {need + HELLO_SENSOR.size} with the sensor kind")
    sensor: str | None = None
    rate_hz = rate / 100
    if len(payload) > need:
        code, rate_mhz = HELLO_SENSOR.unpack_from(payload, need)
        if code not in SENSOR_KINDS:
            raise ValueError(f"unknown sensor kind {code}; known: "
                             + ", ".join(f"{c} {n}" for c, n in SENSOR_KINDS.items()))
        sensor, rate_hz = SENSOR_KINDS[code], rate_mhz / 1000
        low, high = SENSOR_RATE_HZ
        if not low <= rate_hz <= high:
            raise ValueError(f"sample rate {rate_hz:g} Hz of a {sensor} board is outside "
                             f"{low:g}–{high:g} Hz")
    cal = np.frombuffer(payload, dtype="<f4", offset=HELLO_HEAD.size,
                        count=2 * n_cal).reshape(n_cal, 2)
    scale = np.broadcast_to(cal[:, 0], (channels,)).astype(np.float64)
    offset = np.broadcast_to(cal[:, 1], (channels,)).astype(np.float64)
    if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(offset)) and np.all(scale != 0)):
        raise ValueError("calibration is not finite and non-zero")
    return BoardInfo(kind, f"{major}.{minor}.{patch}", channels, rate_hz, fmt, scale, offset,
                     sensor)


def encode_hello(info: BoardInfo) -> bytes:
    """Return the payload of a hello frame (used by the simulators)."""
    per_channel = not (np.all(info.scale == info.scale[0]) and
                       np.all(info.offset == info.offset[0]))
    n_cal = info.channels if per_channel else 1
    major, minor, patch = (int(p) for p in info.firmware.split("."))
    head = HELLO_HEAD.pack(info.device_type, major, minor, patch, info.channels,
                           min(round(info.rate_hz * 100), 0xFFFF), info.sample_format, n_cal)
    cal = np.stack([info.scale[:n_cal], info.offset[:n_cal]], axis=1).astype("<f4")
    if info.sensor is None:
        return head + cal.tobytes()
    extension = HELLO_SENSOR.pack(SENSOR_CODES[info.sensor], round(info.rate_hz * 1000))
    return head + cal.tobytes() + extension


def decode_samples(payload: bytes, info: BoardInfo) -> tuple[int, np.ndarray]:
    """Return (index of the first sample, counts of shape (n, channels))."""
    if len(payload) < SAMPLES_HEAD.size:
        raise ValueError(f"sample frame of {len(payload)} bytes")
    first, n = SAMPLES_HEAD.unpack_from(payload)
    width = _BYTES[info.sample_format]
    need = SAMPLES_HEAD.size + n * info.channels * width
    if n == 0 or len(payload) != need:
        raise ValueError(f"sample frame of {len(payload)} bytes, {n} samples need {need}")
    raw = np.frombuffer(payload, dtype=np.uint8, offset=SAMPLES_HEAD.size)
    if width == 1:
        return first, raw.reshape(n, info.channels).astype(np.int32)
    b = raw.reshape(n * info.channels, 3).astype(np.int32)
    value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    value = np.where(value & 0x800000, value - 0x1000000, value)  # 24-bit two's complement
    return first, value.reshape(n, info.channels)


def encode_samples(first: int, counts: np.ndarray, sample_format: int) -> bytes:
    """Return the payload of a sample frame for counts of shape (n, channels)."""
    n = counts.shape[0]
    if sample_format == FORMAT_U8:
        body = np.clip(counts, 0, 255).astype(np.uint8).tobytes()
    else:
        v = np.clip(counts, -(2**23), 2**23 - 1).astype(np.int64).reshape(-1) & 0xFFFFFF
        body = np.stack([v & 0xFF, (v >> 8) & 0xFF, v >> 16], axis=1).astype(np.uint8).tobytes()
    return SAMPLES_HEAD.pack(first & 0xFFFFFFFF, n) + body


class Calibration(BaseModel):
    """Per-channel calibration that overrides what the board says."""

    model_config = ConfigDict(extra="forbid")

    scale: list[float] = Field(description="Units per ADC count, one per channel.")
    offset: list[float] = Field(description="Units at count 0, one per channel.")


class SampledBoardDriver(SerialDriver):
    """Turn a board's frames into sample blocks in physical units, with honest timestamps."""

    device_type = 0
    summary_every_s = 1.0

    def __init__(self, config: object, open_serial: SerialOpener | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(config, open_serial, clock)
        self.decoder = FrameDecoder()
        self.info: BoardInfo | None = None
        self.errors.update({"sample_gaps": 0, "reanchored": 0, "before_hello": 0,
                            "hello_rejected": 0})
        self._hello_fault: str | None = None  # why the last hello was refused, told once
        self._anchor: tuple[int, float] | None = None
        self._next_index: int | None = None
        self._summary: list[np.ndarray] = []
        self._summary_t: float | None = None

    def frames_seen(self) -> int:
        return self.decoder.counters.frames

    def on_reconnect(self) -> None:
        self.decoder.reset()
        self._anchor, self._next_index = None, None

    def error_counts(self) -> dict[str, int]:
        return {**self.decoder.counters.as_dict(), **self.errors}

    def _calibrated(self, info: BoardInfo) -> BoardInfo:
        override: Calibration | None = getattr(self.config, "calibration", None)
        if override is None:
            return info
        if len(override.scale) != info.channels or len(override.offset) != info.channels:
            raise ValueError(f"calibration in the config has {len(override.scale)} channels, "
                             f"the board {info.channels}")
        return BoardInfo(info.device_type, info.firmware, info.channels, info.rate_hz,
                         info.sample_format, np.array(override.scale), np.array(override.offset),
                         info.sensor)

    def summarise(self, t0: float, block: np.ndarray) -> list[DriverItem]:
        """Return readings that summarise about a second of samples (for dashboards)."""
        return []

    def _block(self, first: int, counts: np.ndarray, t: float) -> list[DriverItem]:
        info = self.info
        assert info is not None
        n = counts.shape[0]
        if self._next_index is not None and first != self._next_index:
            self.errors["sample_gaps"] += 1
        self._next_index = (first + n) & 0xFFFFFFFF
        arrived_t0 = t - (n - 1) / info.rate_hz  # the last sample was just taken
        if self._anchor is None:
            self._anchor = (first, arrived_t0)
        index0, anchor_t = self._anchor
        t0 = anchor_t + ((first - index0) & 0xFFFFFFFF) / info.rate_hz
        if abs(t0 - arrived_t0) > MAX_CLOCK_SKEW_S:
            self.errors["reanchored"] += 1
            self._anchor = (first, arrived_t0)
            t0 = arrived_t0
        values = counts * info.scale + info.offset
        items: list[DriverItem] = [SampleBlock(self.device_id, t0, info.rate_hz, values, first,
                                               info.sensor)]
        self._summary.append(values)
        if self._summary_t is None:
            self._summary_t = t0
        if t0 + n / info.rate_hz - self._summary_t >= self.summary_every_s:
            items += self.summarise(self._summary_t, np.concatenate(self._summary))
            self._summary, self._summary_t = [], None
        return items

    def _frame(self, frame: Frame, t: float) -> list[DriverItem]:
        if frame.type == FRAME_HELLO:
            return self._hello(frame.payload, t)
        if frame.type == FRAME_HEARTBEAT:
            if len(frame.payload) != HEARTBEAT.size:
                raise ValueError(f"heartbeat of {len(frame.payload)} bytes")
            uptime, supply_mv = HEARTBEAT.unpack(frame.payload)
            items: list[DriverItem] = [Observation(
                self.device_id, "board", t, {"uptime_s": uptime, "supply_v": supply_mv / 1e3})]
            if supply_mv < 4500:  # a USB supply sagging below 4.5 V corrupts ADC readings
                items.append(DeviceEvent(self.device_id, "device_fault", t,
                                         {"reason": f"supply {supply_mv / 1e3:.2f} V"}))
            return items
        if frame.type == FRAME_SAMPLES:
            if self.info is None:
                self.errors["before_hello"] += 1  # the board repeats its hello every 10 s
                return []
            first, counts = decode_samples(frame.payload, self.info)
            return self._block(first, counts, t)
        raise ValueError(f"unknown frame type 0x{frame.type:02x}")

    def _hello(self, payload: bytes, t: float) -> list[DriverItem]:
        """Take the board's description; refuse one the detectors cannot use, and say why."""
        try:
            info = self._calibrated(decode_hello(payload))
            if info.device_type != self.device_type:
                raise ValueError(f"device type 0x{info.device_type:02x}, expected "
                                 f"0x{self.device_type:02x}")
        except ValueError as exc:
            # Samples after a refused hello are not used: they would be timed or scaled wrong.
            self.errors["hello_rejected"] += 1
            self.errors["decode"] += 1  # a refused frame, like any other
            self.info, self._anchor, self._next_index = None, None, None
            reason = f"hello refused: {exc}"
            log.warning("%s: %s", self.device_id, reason)
            if reason == self._hello_fault:
                return []  # the board repeats its hello every 10 s: told once
            self._hello_fault = reason
            return [DeviceEvent(self.device_id, "device_fault", t, {"reason": reason})]
        items: list[DriverItem] = []
        if self._hello_fault is not None:
            self._hello_fault = None
            items.append(DeviceEvent(self.device_id, "device_recovered", t,
                                     {"reason": "hello accepted"}))
        if self.info is None or (info.rate_hz, info.channels) != (self.info.rate_hz,
                                                                  self.info.channels):
            self._anchor, self._next_index = None, None
        self.info = info
        fields: dict[str, bool | int | float | str] = {
            "firmware": info.firmware, "channels": info.channels, "rate_hz": info.rate_hz}
        if info.sensor is not None:
            fields["sensor"] = info.sensor
        items.append(Observation(self.device_id, "device_info", t, fields))
        return items

    def handle_bytes(self, data: bytes, t: float) -> list[DriverItem]:
        items: list[DriverItem] = []
        for frame in self.decoder.feed(data):
            try:
                items.extend(self._frame(frame, t))
            except ValueError as exc:
                self.errors["decode"] += 1
                log.warning("%s: skipped frame: %s", self.device_id, exc)
        return items
