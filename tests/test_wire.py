"""The wire contract accepts what the edge sends and rejects everything else with a reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedwatch import wire

T = 1_764_000_000.0


def _event(**overrides: object) -> dict:
    body = {"v": 1, "id": "0123456789abcdef", "seq": 1, "t": T, "device": "button",
            "kind": "call", "severity": "critical", "data": {"button": 7}}
    body.update(overrides)
    return body


def test_topics_roundtrip() -> None:
    assert wire.parse_topic(wire.events_topic("home-1")) == ("home-1", wire.Channel.EVENTS, None)
    assert wire.parse_topic(wire.readings_topic("h")) == ("h", wire.Channel.READINGS, None)
    assert wire.parse_topic(wire.device_status_topic("h", "bed")) == (
        "h", wire.Channel.DEVICE_STATUS, "bed")
    assert wire.parse_topic(wire.cmd_ack_topic("h")) == ("h", wire.Channel.CMD_ACK, None)
    with pytest.raises(ValueError, match="home id"):
        wire.events_topic("Home 1")


def test_event_roundtrip() -> None:
    event = wire.Event.model_validate(_event())
    home, channel, device, decoded = wire.decode(wire.events_topic("h1"), wire.encode(event))
    assert (home, channel, device) == ("h1", wire.Channel.EVENTS, None)
    assert decoded == event


@pytest.mark.parametrize(
    ("topic", "payload", "code"),
    [
        ("bw/v1/h1/events", b"{not json", "json"),
        ("bw/v1/h1/events", b"\xff\xfe", "json"),
        ("bw/v1/h1/events", b"[1, 2]", "json"),
        ("bw/v1/h1/events", json.dumps(_event(v=2)).encode(), "version"),
        ("bw/v1/h1/events", json.dumps(_event(severity="panic")).encode(), "schema"),
        ("bw/v1/h1/events", json.dumps(_event(t=-1.0)).encode(), "schema"),
        ("bw/v1/h1/events", json.dumps(_event(t=5e9)).encode(), "schema"),
        ("bw/v1/h1/events", json.dumps(_event(extra=1)).encode(), "schema"),
        ("bw/v1/h1/events", b" " * (wire.MAX_PAYLOAD_BYTES + 1), "size"),
        ("bw/v2/h1/events", json.dumps(_event()).encode(), "topic"),
        ("bw/v1/H1/events", json.dumps(_event()).encode(), "topic"),
        ("bw/v1/h1/other", json.dumps(_event()).encode(), "topic"),
    ],
)
def test_malformed_is_rejected_with_reason(topic: str, payload: bytes, code: str) -> None:
    with pytest.raises(wire.WireError) as info:
        wire.decode(topic, payload)
    assert info.value.code == code
    assert info.value.reason


def test_batch_agent_must_match_topic() -> None:
    batch = {"v": 1, "agent": "h2", "seq": 0,
             "readings": [{"device": "bed", "kind": "vitals", "t": T, "fields": {"hr": 60}}]}
    with pytest.raises(wire.WireError, match="does not match topic"):
        wire.decode("bw/v1/h1/readings", json.dumps(batch).encode())


def test_life_safety_kinds_are_critical() -> None:
    for kind in wire.LIFE_SAFETY_KINDS:
        assert wire.is_life_safety(kind)
        assert wire.DEFAULT_SEVERITY[kind] is wire.Severity.CRITICAL
    assert not wire.is_life_safety("bed_exit")


@given(st.binary(max_size=512), st.sampled_from(list(wire.HUB_SUBSCRIPTIONS)))
def test_random_bytes_never_escape_as_other_errors(payload: bytes, pattern: str) -> None:
    topic = pattern.replace("+", "h1")
    try:
        wire.decode(topic, payload)
    except wire.WireError:
        pass
