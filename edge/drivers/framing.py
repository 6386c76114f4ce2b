"""The bedwatch serial framing, shared by the call-button receiver, the bed board and the grid mat.

    B3 D5 | type u8 | seq u8 | length u16 LE | payload | crc u16 LE

The CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type..payload, which is what
`binascii.crc_hqx(data, 0xFFFF)` computes. `docs/serial-protocol.md` is the full description.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field

SYNC = b"\xb3\xd5"
HEADER = struct.Struct("<BBH")  # type, seq, length
MAX_PAYLOAD = 1024
_OVERHEAD = len(SYNC) + HEADER.size + 2


def crc16(data: bytes) -> int:
    """Return CRC-16/CCITT-FALSE of `data`."""
    return binascii.crc_hqx(data, 0xFFFF)


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
class FrameCounters:
    """What the decoder has seen, for device status and fault reports."""

    frames: int = 0
    bad_crc: int = 0
    oversize: int = 0
    false_sync: int = 0
    garbage_bytes: int = 0
    seq_gaps: int = 0
    by_type: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {"frames": self.frames, "bad_crc": self.bad_crc, "oversize": self.oversize,
                "false_sync": self.false_sync, "garbage_bytes": self.garbage_bytes,
                "seq_gaps": self.seq_gaps}


class FrameDecoder:
    """Turn a byte stream into frames, resynchronising on the sync word after any damage."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._last_seq: int | None = None
        self.counters = FrameCounters()

    def reset(self) -> None:
        """Forget partial data, e.g. after the device was unplugged."""
        self._buffer.clear()
        self._last_seq = None

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return the complete, valid frames they finish."""
        self._buffer += data
        frames: list[Frame] = []
        buf = self._buffer
        counters = self.counters
        while True:
            start = buf.find(SYNC)
            if start < 0:
                # Keep a trailing first sync byte: the second may come in the next read.
                keep = 1 if buf[-1:] == SYNC[:1] else 0
                counters.garbage_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                counters.garbage_bytes += start
                del buf[:start]
            if len(buf) < len(SYNC) + HEADER.size:
                break
            frame_type, seq, length = HEADER.unpack_from(buf, len(SYNC))
            if length > MAX_PAYLOAD:
                counters.oversize += 1
                counters.garbage_bytes += 1
                del buf[:1]  # a false sync: look for the next one
                continue
            total = length + _OVERHEAD
            if len(buf) < total:
                # Either a frame still arriving or a false sync (line noise, or a damaged
                # length) claiming more bytes than will come. A complete, valid frame already
                # waiting behind it settles it: the head was false. Without this look-ahead
                # a call press behind a false sync would wait for unrelated bytes to fill the
                # claimed length, on a quiet line for minutes.
                later = self._next_valid(buf)
                if later is None:
                    break
                counters.false_sync += 1
                counters.garbage_bytes += later
                del buf[:later]
                continue
            body = bytes(buf[len(SYNC) : total - 2])
            (crc,) = struct.unpack_from("<H", buf, total - 2)
            if crc != crc16(body):
                counters.bad_crc += 1
                counters.garbage_bytes += 1
                del buf[:1]
                continue
            del buf[:total]
            if self._last_seq is not None and seq != (self._last_seq + 1) & 0xFF:
                counters.seq_gaps += 1
            self._last_seq = seq
            counters.frames += 1
            counters.by_type[frame_type] = counters.by_type.get(frame_type, 0) + 1
            frames.append(Frame(frame_type, seq, body[HEADER.size :]))
        return frames

    @staticmethod
    def _next_valid(buf: bytearray) -> int | None:
        """Offset of the first later sync in `buf` that starts a complete, valid frame."""
        start = buf.find(SYNC, 1)
        while start >= 0:
            head = start + len(SYNC)
            if len(buf) < head + HEADER.size:
                return None
            _, _, length = HEADER.unpack_from(buf, head)
            end = start + length + _OVERHEAD
            if length <= MAX_PAYLOAD and end <= len(buf):
                (crc,) = struct.unpack_from("<H", buf, end - 2)
                if crc == crc16(bytes(buf[head:end - 2])):
                    return start
            start = buf.find(SYNC, start + 1)
        return None
