"""The framing at its edges: the largest frame, a header cut between reads, every byte of
damage counted once, payloads that contain the sync word, and a reset after an unplug."""

from __future__ import annotations

import dataclasses

import pytest

from edge.drivers import radar
from edge.drivers.framing import (
    BEDWATCH_FORMAT,
    MAX_PAYLOAD,
    SYNC,
    Frame,
    FrameCounters,
    FrameDecoder,
    FrameSplitter,
    SplitCounters,
    encode_frame,
)


def _header(length: int, frame_type: int = 0x10, seq: int = 1) -> bytes:
    return SYNC + bytes([frame_type, seq]) + length.to_bytes(2, "little")


def _counts(decoder: FrameDecoder) -> dict[str, int]:
    return decoder.counters.as_dict()


ZERO = {"frames": 0, "bad_crc": 0, "oversize": 0, "false_sync": 0, "garbage_bytes": 0,
        "seq_gaps": 0}


def test_fresh_counters_are_all_zero_under_each_format_s_names() -> None:
    assert FrameCounters().as_dict() == ZERO
    assert FrameDecoder().counters.by_type == {}
    assert SplitCounters().as_dict(radar.RADAR_FORMAT) == {
        "frames": 0, "bad_checksum": 0, "bad_tail": 0, "oversize": 0, "false_head": 0,
        "garbage_bytes": 0}
    counters = SplitCounters()
    assert FrameSplitter(BEDWATCH_FORMAT, counters).counters is counters


def test_a_1024_byte_payload_is_the_largest_frame() -> None:
    assert MAX_PAYLOAD == 1024  # docs/serial-protocol.md
    decoder = FrameDecoder()
    largest = encode_frame(0x30, 1, bytes(range(256)) * 4)
    assert [f.payload for f in decoder.feed(largest)] == [bytes(range(256)) * 4]
    with pytest.raises(ValueError, match="exceeds"):
        encode_frame(0x30, 2, bytes(1025))
    assert _counts(decoder) == {**ZERO, "frames": 1}


def test_an_impossible_length_is_dropped_as_soon_as_the_header_is_in() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(_header(1025)) == []
    assert _counts(decoder) == {**ZERO, "oversize": 1, "garbage_bytes": 6}
    assert decoder.feed(encode_frame(0x10, 2, b"call"))[0].payload == b"call"


def test_a_header_claiming_1024_bytes_waits_for_them() -> None:
    splitter = FrameSplitter(BEDWATCH_FORMAT)
    assert splitter.feed(_header(1024)) == []
    assert splitter.buffered == 6 and splitter.counters.oversize == 0


def test_a_first_sync_byte_at_the_end_of_a_read_waits_for_the_next() -> None:
    decoder = FrameDecoder()
    frame = encode_frame(0x10, 1, b"call")
    assert decoder.feed(b"\x00\x01\x02" + frame[:1]) == []
    assert decoder._splitter.buffered == 1
    assert _counts(decoder)["garbage_bytes"] == 3
    assert [f.payload for f in decoder.feed(frame[1:])] == [b"call"]
    assert _counts(decoder) == {**ZERO, "frames": 1, "garbage_bytes": 3}


def test_noise_without_a_sync_byte_is_dropped_and_counted() -> None:
    splitter = FrameSplitter(BEDWATCH_FORMAT)
    assert splitter.feed(b"\x55" * 1000) == []
    assert splitter.buffered == 0 and splitter.counters.garbage_bytes == 1000


def test_every_damaged_byte_is_counted_once() -> None:
    decoder = FrameDecoder()
    bad_crc = bytearray(encode_frame(0x10, 1, b"bed"))
    bad_crc[-1] ^= 0xFF
    stream = (b"\x00" * 5 + _header(2000) + bytes(bad_crc) + encode_frame(0x10, 2, b"call")
              + encode_frame(0x11, 3, b"") + encode_frame(0x10, 4, b"x"))
    frames = decoder.feed(stream)
    assert [(f.type, f.seq, f.payload) for f in frames] == [
        (0x10, 2, b"call"), (0x11, 3, b""), (0x10, 4, b"x")]
    assert _counts(decoder) == {**ZERO, "frames": 3, "bad_crc": 1, "oversize": 1,
                                "garbage_bytes": 5 + 6 + len(bad_crc)}
    assert decoder.counters.by_type == {0x10: 2, 0x11: 1}


def test_a_false_head_is_counted_with_its_bytes() -> None:
    decoder = FrameDecoder()
    noise = _header(300) + b"\x07" * 9
    frames = decoder.feed(noise + encode_frame(0x10, 1, b"call"))
    assert [f.payload for f in frames] == [b"call"]
    assert _counts(decoder) == {**ZERO, "frames": 1, "false_sync": 1,
                                "garbage_bytes": len(noise)}


def test_a_frame_carrying_the_sync_word_is_not_cut_while_it_arrives() -> None:
    # A payload may hold B3 D5 and a header-like tail; the real frame around it still counts.
    payload = b"abc" + _header(0) + b"\x00\x00" + b"x" * 60
    frame = encode_frame(0x20, 1, payload)
    for cut in (12, 20, 40, len(frame) - 1):
        decoder = FrameDecoder()
        assert decoder.feed(frame[:cut]) == []
        assert [f.payload for f in decoder.feed(frame[cut:])] == [payload]
        assert _counts(decoder) == {**ZERO, "frames": 1}


def test_frame_types_are_bytes_and_sequence_numbers_wrap() -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(encode_frame(0, 255) + encode_frame(0xFF, 256) + encode_frame(1, 257))
    assert [(f.type, f.seq) for f in frames] == [(0, 255), (0xFF, 0), (1, 1)]
    assert decoder.counters.seq_gaps == 0
    for bad in (-1, 256):
        with pytest.raises(ValueError, match="not a byte"):
            encode_frame(bad, 0)


def test_reset_forgets_a_partial_frame_and_the_sequence() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(0x10, 1, b"a"))
    decoder.feed(encode_frame(0x10, 2, b"cut off by the unplug")[:9])
    decoder.reset()
    assert decoder._splitter.buffered == 0
    frames = decoder.feed(encode_frame(0x10, 40, b"call"))
    assert [f.payload for f in frames] == [b"call"]
    assert _counts(decoder) == {**ZERO, "frames": 2}  # no gap, no false head, no garbage
    splitter = FrameSplitter(BEDWATCH_FORMAT)
    splitter.feed(_header(10))
    splitter.reset()
    assert splitter.buffered == 0


def test_frames_and_formats_are_immutable_values() -> None:
    frame = FrameDecoder().feed(encode_frame(0x10, 1, b"call"))[0]
    assert frame == Frame(0x10, 1, b"call") and len({frame, Frame(0x10, 1, b"call")}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.payload = b"other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        BEDWATCH_FORMAT.max_length = 10  # type: ignore[misc]


# -- a format with a trailer (the radars') -------------------------------------------------

def test_a_radar_frame_with_a_wrong_trailer_is_counted_and_skipped() -> None:
    splitter = FrameSplitter(radar.RADAR_FORMAT)
    fall = radar.encode_frame(0x83, 0x01, b"\x01")
    damaged = fall[:-1] + b"\x00"
    assert splitter.feed(damaged + fall) == [fall]
    assert splitter.counters.as_dict(radar.RADAR_FORMAT) == {
        "frames": 1, "bad_checksum": 0, "bad_tail": 1, "oversize": 0, "false_head": 0,
        "garbage_bytes": len(damaged)}


def test_a_radar_frame_behind_a_false_head_comes_out_at_once() -> None:
    splitter = FrameSplitter(radar.RADAR_FORMAT)
    fall = radar.encode_frame(0x83, 0x01, b"\x01")
    noise = radar.HEAD + b"\x83\x01\x00\x40"  # claims 64 data bytes that never come
    assert splitter.feed(noise + fall) == [fall]
    assert splitter.counters.false_sync == 1
    assert splitter.counters.garbage_bytes == len(noise)
