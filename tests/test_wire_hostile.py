"""Whatever bytes arrive, `wire.decode` answers with a message or a WireError, never anything
else; numbers, text and nesting that no store can keep are refused or cleaned at the door."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedwatch import wire

T = 1_764_000_000.0
HOME = "h1"


def _event(**overrides: object) -> dict:
    body = {"v": 1, "id": "0123456789abcdef", "seq": 1, "t": T, "device": "button",
            "kind": "call", "severity": "critical", "data": {"button": 7}}
    body.update(overrides)
    return body


def _status(**overrides: object) -> dict:
    body = {"v": 1, "agent": HOME, "state": "online", "t": T, "outbox_depth": 0}
    body.update(overrides)
    return body


def _device_status(**overrides: object) -> dict:
    body = {"v": 1, "device": "bed", "t": T, "connected": True, "errors": {"bad_crc": 1}}
    body.update(overrides)
    return body


def _batch(fields: object) -> dict:
    return {"v": 1, "agent": HOME, "seq": 0,
            "readings": [{"device": "bed", "kind": "vitals", "t": T, "fields": fields}]}


DEEP = ("[" * 100_000 + "]" * 100_000).encode()
DEEP_OBJECT = ('{"v": 1, "data": ' + '{"a":' * 40_000 + "1" + "}" * 40_000 + "}").encode()
HUGE_INT = 2**64
LONG_INT_TEXT = "9" * 5000  # beyond Python's int-from-text limit


@pytest.mark.parametrize(
    ("what", "topic", "payload", "code"),
    [
        ("JSON nested 100,000 deep", "events", DEEP, "json"),
        ("an object nested 50,000 deep", "events", DEEP_OBJECT, "json"),
        ("seq beyond 64 bits", "events", json.dumps(_event(seq=HUGE_INT)).encode(), "schema"),
        ("outbox_depth beyond 64 bits", "status",
         json.dumps(_status(outbox_depth=HUGE_INT)).encode(), "schema"),
        ("a 5000-digit integer", "events",
         json.dumps(_event()).replace('"seq": 1', f'"seq": {LONG_INT_TEXT}').encode(), "json"),
        ("1e400 written out in a reading field", "readings",
         json.dumps(_batch({"hr": 1})).replace('"hr": 1', '"hr": 1e400').encode(), "schema"),
        ("NaN in a reading field", "readings",
         json.dumps(_batch({"hr": 1})).replace('"hr": 1', '"hr": NaN').encode(), "schema"),
        ("a device status error key that is no field name", "devices/bed/status",
         json.dumps(_device_status(errors={"Bad Key!": 1})).encode(), "schema"),
        ("a negative error counter", "devices/bed/status",
         json.dumps(_device_status(errors={"bad_crc": -1})).encode(), "schema"),
        ("a lone surrogate in a reading string", "readings",
         json.dumps(_batch({"note": "\ud800"})).encode(), "schema"),
        ("a status for another home", "status",
         json.dumps(_status(agent="h2")).encode(), "schema"),
        ("a version as a huge string", "events",
         json.dumps(_event(v="x" * 100_000)).encode(), "version"),
        ("infinite uptime", "status",
         json.dumps(_status(uptime_s=1e400)).encode(), "schema"),
    ],
)
def test_hostile_payloads_are_rejected_with_a_code(what: str, topic: str, payload: bytes,
                                                   code: str) -> None:
    with pytest.raises(wire.WireError) as info:
        wire.decode(f"bw/v1/{HOME}/{topic}", payload)
    print(f"{what}: {info.value.code}: {info.value.reason[:120]}")
    assert info.value.code == code
    assert len(info.value.reason) < 1000  # a reason is for a log line, not an echo


def test_a_call_with_hostile_evidence_is_cleaned_not_refused() -> None:
    # A person pressed the button: the evidence riding along must never cost the call.
    data = {"note": "\ud800bad", "big": HUGE_INT, "nested": {"a": {"b": {"c": {"d": {"e": {
        "f": {"g": 1}}}}}}}, "nul": "a\x00b", "many": list(range(1000)), "ok": "按钮"}
    raw = json.dumps(_event(data=data)).replace('"big": 18446744073709551616',
                                                '"big": 18446744073709551616, "inf": 1e400')
    _, _, _, event = wire.decode(f"bw/v1/{HOME}/events", raw.encode())
    assert isinstance(event, wire.Event)
    assert event.kind == "call"
    assert event.data["note"] == "\ufffdbad"
    assert event.data["big"] is None and event.data["inf"] is None
    assert event.data["nul"] == "ab"
    assert event.data["ok"] == "按钮"
    assert len(event.data["many"]) == wire.MAX_DATA_LIST
    assert set(event.data["_cleaned"]) >= {"text", "int64", "finite", "depth", "items"}
    # What was cleaned encodes again as strict UTF-8 JSON.
    json.loads(wire.encode(event).decode("utf-8"))


def test_a_call_from_a_clock_in_1970_is_accepted_and_flagged() -> None:
    _, _, _, event = wire.decode(f"bw/v1/{HOME}/events",
                                 json.dumps(_event(t=12.5)).encode())
    assert isinstance(event, wire.Event)
    assert not event.trusted_time()
    flagged = wire.Event.model_validate(_event(clock_untrusted=True))
    assert not flagged.trusted_time()
    assert wire.Event.model_validate(_event()).trusted_time()


def test_readings_still_need_a_plausible_time() -> None:
    body = _batch({"hr": 60})
    body["readings"][0]["t"] = 12.5
    with pytest.raises(wire.WireError, match=r"readings\.0\.t"):
        wire.decode(f"bw/v1/{HOME}/readings", json.dumps(body).encode())


def test_receipts_roundtrip_and_bounds() -> None:
    receipt = wire.Receipt(ids=["0123456789abcdef"], t=T)
    home, channel, _, decoded = wire.decode(wire.receipts_topic(HOME), wire.encode(receipt))
    assert (home, channel, decoded) == (HOME, wire.Channel.RECEIPTS, receipt)
    too_many = {"v": 1, "ids": ["0123456789abcdef"] * 501, "t": T}
    with pytest.raises(wire.WireError):
        wire.decode(wire.receipts_topic(HOME), json.dumps(too_many).encode())


def test_numbers_at_the_bounds_are_accepted() -> None:
    _, _, _, event = wire.decode(f"bw/v1/{HOME}/events",
                                 json.dumps(_event(seq=wire.INT64_MAX)).encode())
    assert event.seq == wire.INT64_MAX  # type: ignore[union-attr]
    _, _, _, status = wire.decode(f"bw/v1/{HOME}/status",
                                  json.dumps(_status(outbox_depth=0)).encode())
    assert status.outbox_depth == 0  # type: ignore[union-attr]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                       children, max_size=4),
    max_leaves=40)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(channel=st.sampled_from(["events", "readings", "status", "devices/bed/status",
                                "cmd/ack", "receipts", "cmd"]),
       body=st.dictionaries(st.sampled_from(["v", "id", "seq", "t", "device", "kind",
                                              "severity", "data", "agent", "state",
                                              "readings", "fields", "errors", "ids",
                                              "outbox_depth", "connected", "ok"]),
                            json_values, max_size=10),
       v_one=st.booleans())
def test_arbitrary_json_never_escapes_as_another_error(channel: str, body: dict,
                                                       v_one: bool) -> None:
    if v_one:
        body["v"] = 1
    try:
        payload = json.dumps(body).encode("utf-8", "surrogatepass")
    except ValueError:
        payload = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    try:
        _, _, _, message = wire.decode(f"bw/v1/{HOME}/{channel}", payload)
    except wire.WireError as exc:
        assert exc.code in {"json", "version", "schema", "size", "topic", "internal"}
        return
    # Whatever is accepted can be encoded again and stored as strict UTF-8.
    wire.encode(message).decode("utf-8")


@given(st.binary(max_size=2048), st.text(max_size=80))
def test_arbitrary_bytes_and_topics_never_escape(payload: bytes, suffix: str) -> None:
    for topic in (f"bw/v1/{HOME}/events", f"bw/v1/{suffix}", suffix):
        try:
            wire.decode(topic, payload)
        except wire.WireError:
            pass


def test_clean_data_keeps_ordinary_evidence_as_it_is() -> None:
    data = {"button": 305419896, "battery_pct": 80.5, "ids": [1, 2], "flag": True,
            "none": None, "text": "跌倒"}
    assert wire.clean_data(data) == data
    assert not math.isnan(wire.clean_data({"x": 1.5})["x"])
