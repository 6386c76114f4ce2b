"""The serial framing resynchronises after any damage and never raises on noise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.framing import MAX_PAYLOAD, SYNC, FrameDecoder, crc16, encode_frame


def test_crc_is_ccitt_false() -> None:
    # CRC-16/CCITT-FALSE check value of "123456789" is 0x29B1 (the catalogue's check value).
    assert crc16(b"123456789") == 0x29B1


def test_roundtrip_and_sequence_gaps() -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(encode_frame(1, 10, b"a") + encode_frame(2, 11, b"") +
                          encode_frame(3, 13, b"xyz"))
    assert [(f.type, f.seq, f.payload) for f in frames] == [(1, 10, b"a"), (2, 11, b""),
                                                           (3, 13, b"xyz")]
    assert decoder.counters.seq_gaps == 1


def test_sequence_wraps_without_a_gap() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(1, 255, b"") + encode_frame(1, 0, b""))
    assert decoder.counters.seq_gaps == 0


def test_oversize_length_is_a_false_sync() -> None:
    decoder = FrameDecoder()
    fake = SYNC + bytes([1, 0]) + (MAX_PAYLOAD + 1).to_bytes(2, "little")
    frames = decoder.feed(fake + encode_frame(2, 0, b"ok"))
    assert [f.payload for f in frames] == [b"ok"]
    assert decoder.counters.oversize == 1


def test_encode_refuses_what_cannot_be_framed() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_frame(1, 0, bytes(MAX_PAYLOAD + 1))
    with pytest.raises(ValueError, match="not a byte"):
        encode_frame(256, 0, b"")


@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    decoder = FrameDecoder()
    for frame in decoder.feed(data):
        assert len(frame.payload) <= MAX_PAYLOAD


@given(st.binary(max_size=300), st.binary(max_size=64), st.binary(max_size=300),
       st.integers(1, 50))
def test_frame_inside_garbage_is_recovered(before: bytes, payload: bytes, after: bytes,
                                           chunk: int) -> None:
    frame = encode_frame(0x42, 7, payload)
    stream = before + frame + after
    decoder = FrameDecoder()
    frames = []
    for i in range(0, len(stream), chunk):
        frames += decoder.feed(stream[i:i + chunk])
    assert any(f.type == 0x42 and f.payload == payload for f in frames)
