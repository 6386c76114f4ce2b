"""Frames out of a byte stream, and the bedwatch serial framing.

`FrameSplitter` cuts any stream of head-length-check frames into checked frames and
resynchronises after damage; a `FrameFormat` says what one family of frames looks like. Two
formats use it: the bedwatch framing below (call-button receiver, bed board, grid mat) and
Seeed's radar frames (`edge.drivers.radar`).

The bedwatch framing:

    B3 D5 | type u8 | seq u8 | length u16 LE | payload | crc u16 LE

The CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type..payload, which is what
`binascii.crc_hqx(data, 0xFFFF)` computes. `docs/serial-protocol.md` is the full description.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

SYNC = b"\xb3\xd5"
HEADER = struct.Struct("<BBH")  # type, seq, length
MAX_PAYLOAD = 1024
_OVERHEAD = len(SYNC) + HEADER.size + 2


@dataclass(frozen=True, slots=True)
class FrameFormat:
    """What a family of frames looks like: `head | … length … | data | check | trailer`.

    A frame is `length + overhead` bytes long, where `length` is the field read with
    `length_field` at `length_offset` from the head.
    """

    head: bytes  # the bytes every frame starts with
    length_offset: int  # where the length field starts, counted from the first head byte
    length_field: struct.Struct  # how the length is stored (size and byte order)
    max_length: int  # a larger length means the head was a coincidence
    overhead: int  # bytes of a frame beyond `length`: head, header, check and trailer
    check: Callable[[bytes], bool]  # whether a complete frame (without its trailer) is intact
    trailer: bytes = b""  # the bytes every frame ends with, if any
    # Names of the counters in device status, where a format has its own words for them.
    bad_check_name: str = "bad_check"
    false_head_name: str = "false_head"

    @property
    def header_size(self) -> int:
        """Bytes needed from the head on before the length can be read."""
        return self.length_offset + self.length_field.size


@dataclass
class SplitCounters:
    """What a splitter has seen, for device status and fault reports."""

    frames: int = 0
    bad_check: int = 0  # a complete frame whose check failed
    bad_tail: int = 0
    oversize: int = 0  # a length above the format's maximum
    false_sync: int = 0  # a head whose frame never came, skipped for a good frame behind it
    garbage_bytes: int = 0  # bytes that were not part of a valid frame

    def as_dict(self, fmt: FrameFormat) -> dict[str, int]:
        """Return the counters under the format's names (no trailer counter without one)."""
        out = {"frames": self.frames, fmt.bad_check_name: self.bad_check}
        if fmt.trailer:
            out["bad_tail"] = self.bad_tail
        out.update({"oversize": self.oversize, fmt.false_head_name: self.false_sync,
                    "garbage_bytes": self.garbage_bytes})
        return out


class FrameSplitter:
    """Cut a byte stream into complete, checked frames; resynchronise on the head after damage.

    A length above the maximum, a failed check or a wrong trailer means the head was a
    coincidence: one byte is dropped and the scan goes on, so a real frame that starts inside
    damaged bytes is still found. A head that claims more bytes than have come may be a frame
    still arriving or noise; a complete, valid frame already waiting behind it settles it at
    once (`false_sync`). Between reads the buffer holds less than one longest frame.
    """

    def __init__(self, fmt: FrameFormat, counters: SplitCounters | None = None) -> None:
        self.format = fmt
        self.counters = counters if counters is not None else SplitCounters()
        self._buffer = bytearray()
        # The hot path of every serial driver: the format's parts are looked up once.
        self._parts = (fmt.head, fmt.trailer, fmt.check, fmt.header_size, fmt.max_length,
                       fmt.overhead, fmt.length_field.unpack_from, fmt.length_offset)

    def reset(self) -> None:
        """Forget partial data, e.g. after the device was unplugged."""
        self._buffer.clear()

    @property
    def buffered(self) -> int:
        """Return how many bytes wait for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete, valid frames they finish, head to trailer."""
        buf, counters = self._buffer, self.counters
        buf += data
        (head, trailer, check, header_size, max_length, overhead, unpack_length,
         length_offset) = self._parts
        frames: list[bytes] = []
        while True:
            start = buf.find(head)
            if start < 0:
                # Keep a trailing first head byte: the rest may come in the next read.
                keep = 1 if buf[-1:] == head[:1] else 0
                counters.garbage_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                counters.garbage_bytes += start
                del buf[:start]
            if len(buf) < header_size:
                break
            (length,) = unpack_length(buf, length_offset)
            if length > max_length:
                counters.oversize += 1
                counters.garbage_bytes += 1
                del buf[:1]  # a false head: look for the next one
                continue
            total = length + overhead
            if len(buf) < total:
                # Either a frame still arriving or a false head (line noise, or a damaged
                # length) claiming more bytes than will come. A complete, valid frame already
                # waiting behind it settles it: the head was false. Without this look-ahead
                # a call press or a fall report behind a false head would wait for unrelated
                # bytes to fill the claimed length, on a quiet line for minutes.
                later = self._next_valid(buf)
                if later is None:
                    break
                counters.false_sync += 1
                counters.garbage_bytes += later
                del buf[:later]
                continue
            frame = bytes(buf[:total])
            if not check(frame[:total - len(trailer)] if trailer else frame):
                counters.bad_check += 1
                counters.garbage_bytes += 1
                del buf[:1]
                continue
            if trailer and not frame.endswith(trailer):
                counters.bad_tail += 1
                counters.garbage_bytes += 1
                del buf[:1]
                continue
            frames.append(frame)
            del buf[:total]
            counters.frames += 1
        return frames

    def _next_valid(self, buf: bytearray) -> int | None:
        """Offset of the first later head in `buf` that starts a complete, valid frame."""
        fmt = self.format
        start = buf.find(fmt.head, 1)
        while start >= 0:
            if len(buf) < start + fmt.header_size:
                return None
            (length,) = fmt.length_field.unpack_from(buf, start + fmt.length_offset)
            end = start + length + fmt.overhead
            body_end = end - len(fmt.trailer)
            if (length <= fmt.max_length and end <= len(buf)
                    and fmt.check(bytes(buf[start:body_end]))
                    and bytes(buf[body_end:end]) == fmt.trailer):
                return start
            start = buf.find(fmt.head, start + 1)
        return None


# -- the bedwatch framing ---------------------------------------------------------------------


def crc16(data: bytes) -> int:
    """Return CRC-16/CCITT-FALSE of `data`."""
    return binascii.crc_hqx(data, 0xFFFF)


_CRC = struct.Struct("<H")


def _crc_holds(frame: bytes) -> bool:
    (crc,) = _CRC.unpack_from(frame, len(frame) - 2)
    # Runs for every frame of every serial device: kept to one slice and one C call.
    return crc == binascii.crc_hqx(frame[2:-2], 0xFFFF)


BEDWATCH_FORMAT = FrameFormat(
    head=SYNC, length_offset=len(SYNC) + 2, length_field=struct.Struct("<H"),
    max_length=MAX_PAYLOAD, overhead=_OVERHEAD, check=_crc_holds,
    bad_check_name="bad_crc", false_head_name="false_sync")


def encode_frame(frame_type: int, seq: int, payload: bytes = b"") -> bytes:
    """Return one complete frame."""
    if not 0 <= frame_type <= 0xFF:
        raise ValueError(f"frame type {frame_type} is not a byte")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = HEADER.pack(frame_type, seq & 0xFF, len(payload)) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame whose checksum was right."""

    type: int
    seq: int
    payload: bytes


@dataclass
class FrameCounters(SplitCounters):
    """What the decoder has seen: the splitter's counts, lost frames and frames by type."""

    seq_gaps: int = 0
    by_type: dict[int, int] = field(default_factory=dict)

    def as_dict(self, fmt: FrameFormat = BEDWATCH_FORMAT) -> dict[str, int]:
        return {**super().as_dict(fmt), "seq_gaps": self.seq_gaps}


class FrameDecoder:
    """Turn a byte stream into bedwatch frames, resynchronising on the sync word after damage."""

    def __init__(self) -> None:
        self.counters = FrameCounters()
        self._splitter = FrameSplitter(BEDWATCH_FORMAT, self.counters)
        self._last_seq: int | None = None

    def reset(self) -> None:
        """Forget partial data, e.g. after the device was unplugged."""
        self._splitter.reset()
        self._last_seq = None

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return the complete, valid frames they finish."""
        raws = self._splitter.feed(data)
        if not raws:
            return []
        counters, by_type, last = self.counters, self.counters.by_type, self._last_seq
        frames: list[Frame] = []
        # `sync | type | seq | length u16 | payload | crc u16`: bytes 2 and 3 are type and seq.
        for raw in raws:
            frame_type, seq = raw[2], raw[3]
            if last is not None and seq != (last + 1) & 0xFF:
                counters.seq_gaps += 1
            last = seq
            by_type[frame_type] = by_type.get(frame_type, 0) + 1
            frames.append(Frame(frame_type, seq, raw[6:-2]))
        self._last_seq = last
        return frames
