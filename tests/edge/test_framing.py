"""The serial framing resynchronises after any damage and never raises on noise; one splitter
serves it and the radars' frames, and holds less than a frame between reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers import radar
from edge.drivers.framing import (
    BEDWATCH_FORMAT,
    MAX_PAYLOAD,
    SYNC,
    FrameDecoder,
    FrameFormat,
    FrameSplitter,
    crc16,
    encode_frame,
)


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


def test_false_sync_does_not_hold_back_a_frame_behind_it() -> None:
    # Noise that looks like a header claiming 200 bytes must not make a call press wait for
    # 200 unrelated bytes: the complete frame behind it comes out of the same read.
    decoder = FrameDecoder()
    noise = SYNC + bytes([0x10, 3]) + (200).to_bytes(2, "little") + b"\x01\x02"
    frames = decoder.feed(noise + encode_frame(0x10, 4, b"call"))
    assert [f.payload for f in frames] == [b"call"]
    assert decoder.counters.false_sync == 1
    assert decoder.counters.garbage_bytes == len(noise)


def test_a_frame_still_arriving_is_not_mistaken_for_noise() -> None:
    decoder = FrameDecoder()
    frame = encode_frame(0x20, 1, bytes(range(100)))
    assert decoder.feed(frame[:60]) == []
    assert [f.payload for f in decoder.feed(frame[60:])] == [bytes(range(100))]
    assert decoder.counters.false_sync == 0 and decoder.counters.garbage_bytes == 0


# Line noise with stray sync words, some followed by a header with a plausible length.
noise = st.lists(st.one_of(
    st.binary(max_size=16),
    st.binary(max_size=6).map(lambda header: SYNC + header),
    st.integers(0, MAX_PAYLOAD).map(lambda n: SYNC + b"\x10\x00" + n.to_bytes(2, "little")),
), max_size=20).map(b"".join)


@given(noise, st.binary(max_size=64), st.integers(1, 50))
def test_a_frame_is_delivered_when_its_last_byte_arrives(before: bytes, payload: bytes,
                                                         chunk: int) -> None:
    frame = encode_frame(0x42, 7, payload)
    stream = before + frame
    decoder = FrameDecoder()
    frames = []
    for i in range(0, len(stream), chunk):
        frames += decoder.feed(stream[i:i + chunk])
    assert frames and frames[-1].type == 0x42 and frames[-1].payload == payload


@pytest.mark.parametrize("fmt", [BEDWATCH_FORMAT, radar.RADAR_FORMAT], ids=["bedwatch", "radar"])
@given(data=st.lists(st.binary(max_size=300), max_size=30))
def test_the_splitter_holds_less_than_a_frame_between_reads(fmt: FrameFormat,
                                                            data: list[bytes]) -> None:
    splitter = FrameSplitter(fmt)
    longest = fmt.max_length + fmt.overhead
    for chunk in data:
        for frame in splitter.feed(fmt.head + chunk):  # a head in every read: worst case
            assert frame.startswith(fmt.head) and frame.endswith(fmt.trailer)
        assert splitter.buffered < longest


def test_the_splitter_finds_both_formats_frames() -> None:
    bedwatch, seeed = FrameSplitter(BEDWATCH_FORMAT), FrameSplitter(radar.RADAR_FORMAT)
    call = encode_frame(0x10, 1, b"call")
    fall = radar.encode_frame(0x83, 0x01, b"\x01")
    assert bedwatch.feed(b"\x00" + fall + call) == [call]
    assert seeed.feed(b"\x00" + call + fall) == [fall]
    assert bedwatch.counters.as_dict(BEDWATCH_FORMAT)["frames"] == 1
    assert "bad_tail" in seeed.counters.as_dict(radar.RADAR_FORMAT)
