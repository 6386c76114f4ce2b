"""The wire contract at its bounds: topics, ids, sizes, times and the cleaning of evidence are
accepted exactly up to the limits `docs/protocol.md` states and refused one step past them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from bedwatch import wire

T = 1_764_000_000.0
HOME = "h1"


def _event(**overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"v": 1, "id": "0123456789abcdef", "seq": 1, "t": T,
                            "device": "button", "kind": "call", "severity": "critical",
                            "data": {"button": 7}}
    body.update(overrides)
    return body


def _device_status(**overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"v": 1, "device": "bed", "t": T, "connected": True}
    body.update(overrides)
    return body


def _reading(**overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"device": "bed", "kind": "vitals", "t": T, "fields": {"hr": 60}}
    body.update(overrides)
    return body


def _decode(channel: str, body: dict[str, Any]) -> Any:
    return wire.decode(f"bw/v1/{HOME}/{channel}", json.dumps(body).encode())[3]


def _refused(channel: str, body: dict[str, Any]) -> wire.WireError:
    with pytest.raises(wire.WireError) as info:
        _decode(channel, body)
    return info.value


def _batch(*readings: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "agent": HOME, "seq": 0, "readings": list(readings)}


# -- topics ---------------------------------------------------------------------------------

def test_every_topic_is_spelled_as_the_protocol_says() -> None:
    assert wire.readings_topic("h1") == "bw/v1/h1/readings"
    assert wire.events_topic("h1") == "bw/v1/h1/events"
    assert wire.status_topic("h1") == "bw/v1/h1/status"
    assert wire.device_status_topic("h1", "bed") == "bw/v1/h1/devices/bed/status"
    assert wire.cmd_topic("h1") == "bw/v1/h1/cmd"
    assert wire.cmd_ack_topic("h1") == "bw/v1/h1/cmd/ack"
    assert wire.receipts_topic("h1") == "bw/v1/h1/receipts"


@pytest.mark.parametrize("build", [wire.readings_topic, wire.events_topic, wire.status_topic,
                                   wire.cmd_topic, wire.cmd_ack_topic, wire.receipts_topic])
def test_every_topic_parses_back_and_refuses_a_bad_home(build: Any) -> None:
    home, channel, device = wire.parse_topic(build("h1"))
    assert home == "h1" and device is None
    assert build("h1").endswith("/" + channel.value.replace("cmd_ack", "cmd/ack"))
    with pytest.raises(ValueError, match="home id"):
        build("h/1")


@pytest.mark.parametrize("topic", [
    "bw/v1/h1", "bw/v1", "bw", "", "bw/v1/h1/", "bw/v1/h1/devices/bed",
    "bw/v1/h1/devices/bed/status/x", "bw/v1/h1/things/bed/status", "bw/v1/h1/devices/bed/state",
    "xx/v1/h1/events", "bw/v2/h1/events", "bw/v1//events", "bw/v1/h1/cmd/nack",
    "bw/v1/h1/events/x"])
def test_topics_outside_the_contract_are_refused(topic: str) -> None:
    with pytest.raises(wire.WireError) as info:
        wire.parse_topic(topic)
    assert info.value.code == "topic"


def test_a_bad_device_id_in_a_topic_is_named_in_the_reason() -> None:
    with pytest.raises(wire.WireError, match="'Bed 2'") as info:
        wire.parse_topic("bw/v1/h1/devices/Bed 2/status")
    assert info.value.code == "topic" and "Bed 2" in str(info.value)


# -- ids and kinds --------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "ok"), [
    ("a", True), ("0", True), ("h-1_b", True), ("a" * 64, True),
    ("a" * 65, False), ("", False), ("-a", False), ("_a", False), ("A", False),
    ("a b", False), ("a/b", False), ("a\n", False), ("\na", False), ("é", False)])
def test_ids_are_lowercase_and_at_most_64_long(value: str, ok: bool) -> None:
    assert (wire.ID_RE.match(value) is not None and wire.ID_RE.fullmatch(value) is not None) \
        is ok
    body = _device_status(device=value)
    if ok:
        assert _decode(f"devices/{value}/status", body).device == value
    else:
        assert _refused("events", _event(device=value)).code == "schema"


@pytest.mark.parametrize(("value", "ok"), [
    ("a" * 8, True), ("A1_.:-" + "b" * 74, True), ("a" * 7, False), ("a" * 81, False),
    ("abcdefgh/", False), ("abcdefgh ", False), (" abcdefgh", False), ("abcdefgh\n", False)])
def test_event_ids_are_8_to_80_safe_characters(value: str, ok: bool) -> None:
    if ok:
        assert _decode("events", _event(id=value)).id == value
    else:
        assert _refused("events", _event(id=value)).code == "schema"


@pytest.mark.parametrize(("value", "ok"), [
    ("a", True), ("bed_exit", True), ("a" + "b" * 47, True), ("a" + "b" * 48, False),
    ("", False), ("1call", False), ("_call", False), ("Call", False), ("call-1", False),
    ("call ", False), (" call", False)])
def test_kinds_start_with_a_letter_and_are_at_most_48_long(value: str, ok: bool) -> None:
    if ok:
        assert _decode("events", _event(kind=value)).kind == value
        assert _decode("readings", _batch(_reading(kind=value))).readings[0].kind == value
    else:
        assert _refused("events", _event(kind=value)).code == "schema"
        assert _refused("readings", _batch(_reading(kind=value))).code == "schema"


# -- times ----------------------------------------------------------------------------------

def test_plausible_time_includes_both_ends_of_its_range() -> None:
    assert wire.MIN_PLAUSIBLE_T == 1_577_836_800.0  # 2020-01-01T00:00:00Z
    assert wire.MAX_PLAUSIBLE_T == 4_102_444_800.0  # 2100-01-01T00:00:00Z
    assert wire.plausible_time(wire.MIN_PLAUSIBLE_T)
    assert wire.plausible_time(wire.MAX_PLAUSIBLE_T)
    assert not wire.plausible_time(wire.MIN_PLAUSIBLE_T - 0.001)
    assert not wire.plausible_time(wire.MAX_PLAUSIBLE_T + 0.001)
    assert wire.plausible_time(T) is True and wire.plausible_time(0.0) is False


def test_a_call_at_the_epoch_is_carried_and_a_reading_then_is_not() -> None:
    event = _decode("events", _event(t=0.0))
    assert event.t == 0.0 and not event.trusted_time()
    assert not _decode("events", _event(clock_untrusted=True)).trusted_time()
    assert _decode("events", _event()).trusted_time() is True
    assert _decode("events", _event()).clock_untrusted is False
    assert _refused("events", _event(t=-0.001)).code == "schema"
    assert _decode("readings", _batch(_reading(t=wire.MIN_PLAUSIBLE_T))).readings[0].t \
        == wire.MIN_PLAUSIBLE_T


# -- readings -------------------------------------------------------------------------------

def test_a_reading_with_an_unknown_key_is_refused() -> None:
    error = _refused("readings", _batch(_reading(unit="bpm")))
    assert error.code == "schema" and "readings.0.unit" in error.reason


def test_reading_fields_keep_their_text_and_are_bounded() -> None:
    reading = _reading(fields={"posture": "lying", "hr": 60, "ok": True, "note": "x" * 256})
    decoded = _decode("readings", _batch(reading)).readings[0]
    assert decoded.fields == {"posture": "lying", "hr": 60, "ok": True, "note": "x" * 256}
    assert _refused("readings", _batch(_reading(fields={"note": "x" * 257}))).code == "schema"
    assert _refused("readings", _batch(_reading(fields={}))).code == "schema"
    many = {f"f{i}": i for i in range(64)}
    assert _decode("readings", _batch(_reading(fields=many))).readings[0].fields == many
    assert _refused("readings", _batch(_reading(
        fields={**many, "f64": 64}))).code == "schema"
    with pytest.raises(wire.WireError):
        _decode("readings", _batch(_reading(fields={"note": "a\x00b"})))


def test_a_batch_holds_one_to_2000_readings() -> None:
    assert wire.MAX_READINGS_PER_BATCH == 2000
    full = _batch(*[_reading(t=T + i) for i in range(2000)])
    assert len(_decode("readings", full).readings) == 2000
    assert _refused("readings", _batch(*[_reading(t=T + i) for i in range(2001)])).code \
        == "schema"
    assert _refused("readings", _batch()).code == "schema"


# -- status ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("battery", "ok"), [
    (0, True), (0.0, True), (100, True), (55.5, True), (-0.1, False), (100.1, False)])
def test_battery_from_empty_to_full_is_accepted(battery: float, ok: bool) -> None:
    body = _device_status(battery_pct=battery)
    if ok:
        assert _decode("devices/bed/status", body).battery_pct == battery
    else:
        assert _refused("devices/bed/status", body).code == "schema"


def test_a_device_status_has_at_most_32_error_counters() -> None:
    errors = {f"cause_{i}": i for i in range(32)}
    assert _decode("devices/bed/status", _device_status(errors=errors)).errors == errors
    assert _refused("devices/bed/status", _device_status(
        errors={**errors, "cause_32": 0})).code == "schema"


def test_a_device_status_on_another_device_topic_is_refused() -> None:
    error = _refused("devices/mat/status", _device_status(device="bed"))
    assert error.code == "schema"
    assert _decode("devices/bed/status", _device_status(device="bed")).device == "bed"


def test_an_agent_status_with_an_empty_outbox_is_accepted() -> None:
    status = _decode("status", {"v": 1, "agent": HOME, "state": "online", "t": T,
                                "outbox_depth": 0, "uptime_s": 0, "devices": ["bed"],
                                "degraded": []})
    assert status.outbox_depth == 0 and status.uptime_s == 0
    assert _refused("status", {"v": 1, "agent": HOME, "state": "online",
                               "outbox_depth": -1}).code == "schema"


def test_the_last_will_is_sent_without_nulls() -> None:
    will = wire.AgentStatus(agent=HOME, state="offline")
    assert wire.encode(will) == b'{"v":1,"agent":"h1","state":"offline","devices":[],' \
                                b'"degraded":[]}'
    status = wire.DeviceStatus(device="bed", t=T, connected=False)
    assert b"null" not in wire.encode(status)


def test_a_decoded_message_cannot_be_altered() -> None:
    event = _decode("events", _event())
    with pytest.raises(ValidationError):
        event.kind = "bed_exit"
    reading = _decode("readings", _batch(_reading())).readings[0]
    with pytest.raises(ValidationError):
        reading.t = 0.0


# -- size -----------------------------------------------------------------------------------

def _batch_of_size(size: int) -> wire.ReadingBatch:
    """Return a reading batch whose JSON payload is exactly `size` bytes."""
    def batch(n: int, a: int, b: int) -> wire.ReadingBatch:
        readings = [_reading(t=T + i, fields={"note": "x" * 200}) for i in range(n)]
        readings += [_reading(t=T + n, fields={"note": "a" * a}),
                     _reading(t=T + n + 1, fields={"note": "b" * b})]
        return wire.ReadingBatch.model_validate(_batch(*readings))

    per = len(batch(1, 0, 0).model_dump_json()) - len(batch(0, 0, 0).model_dump_json())
    n = (size - len(batch(0, 0, 0).model_dump_json())) // per
    rest = size - len(batch(n, 0, 0).model_dump_json())
    assert 0 <= rest <= 512
    out = batch(n, rest // 2, rest - rest // 2)
    assert len(out.model_dump_json()) == size
    return out


def test_a_payload_of_exactly_256_kib_passes_and_one_byte_more_does_not() -> None:
    assert wire.MAX_PAYLOAD_BYTES == 256 * 1024
    batch = _batch_of_size(256 * 1024)
    largest = wire.encode(batch)
    assert wire.decode(wire.readings_topic(HOME), largest) == (
        HOME, wire.Channel.READINGS, None, batch)
    with pytest.raises(wire.WireError) as info:
        wire.encode(_batch_of_size(256 * 1024 + 1))
    assert info.value.code == "size"
    with pytest.raises(wire.WireError) as info:
        wire.decode(wire.readings_topic(HOME), largest + b" ")
    assert info.value.code == "size"


# -- the cleaning of evidence -----------------------------------------------------------------

def test_evidence_is_kept_up_to_256_values_and_cut_after() -> None:
    # The root, 4 lists of 60 and a last list make 246 values; 10 more fit in the budget.
    data: dict[str, Any] = {k: list(range(60)) for k in "abcd"}
    data["e"] = list(range(60))
    cleaned = wire.clean_data(data)
    assert [cleaned[k] for k in "abcd"] == [list(range(60))] * 4
    assert cleaned["e"] == list(range(10))
    assert cleaned["_cleaned"] == ["items"]
    data["e"] = {f"k{i}": i for i in range(60)}
    cleaned = wire.clean_data(data)
    assert cleaned["e"] == {f"k{i}": i for i in range(10)}
    assert cleaned["_cleaned"] == ["items"]
    data["e"] = list(range(10))
    assert wire.clean_data(data) == data  # exactly 256 values: nothing is cut


def test_evidence_keeps_64_entries_per_object_or_list() -> None:
    data = {"l": list(range(64)), "d": {f"k{i}": i for i in range(64)}}
    assert wire.clean_data(data) == data
    cleaned = wire.clean_data({"l": list(range(65))})
    assert cleaned == {"l": list(range(64)), "_cleaned": ["items"]}
    cleaned = wire.clean_data({f"k{i}": i for i in range(65)})
    assert len(cleaned) == 64 + 1 and "k64" not in cleaned and cleaned["_cleaned"] == ["items"]


def test_evidence_nested_six_levels_is_kept_and_deeper_is_cut() -> None:
    deepest: Any = {"leaf": 1}
    objects = {"a": {"b": {"c": {"d": {"e": deepest}}}}}  # the leaf's object is at depth 5
    assert wire.clean_data(objects) == objects
    lists = {"a": [[[[[1]]]]]}
    assert wire.clean_data(lists) == lists
    assert wire.clean_data({"a": {"b": {"c": {"d": {"e": {"f": {}}}}}}}) == {
        "a": {"b": {"c": {"d": {"e": {"f": None}}}}}, "_cleaned": ["depth"]}
    assert wire.clean_data({"a": [[[[[[1]]]]]]}) == {"a": [[[[[None]]]]], "_cleaned": ["depth"]}


def test_evidence_numbers_at_the_int64_bounds_are_kept() -> None:
    data = {"min": -(2**63), "max": 2**63 - 1, "f": -1.5, "z": 0}
    assert wire.clean_data(data) == data
    assert wire.INT64_MIN == -(2**63) and wire.INT64_MAX == 2**63 - 1
    assert wire.clean_data({"x": 2**63}) == {"x": None, "_cleaned": ["int64"]}
    assert wire.clean_data({"x": -(2**63) - 1}) == {"x": None, "_cleaned": ["int64"]}
    assert wire.clean_data({"x": float("nan")}) == {"x": None, "_cleaned": ["finite"]}
    assert wire.Event.model_validate(_event(seq=2**63 - 1)).seq == 2**63 - 1
    assert _refused("events", _event(seq=2**63)).code == "schema"
    assert _refused("events", _event(seq=-1)).code == "schema"


def test_evidence_text_is_capped_at_1024_characters_and_keys_at_64() -> None:
    assert wire.clean_text("x" * 1024) == "x" * 1024
    assert wire.clean_text("é" * 1025) == "é" * 1024
    assert wire.clean_data({"k" * 70: "v" * 1025}) == {"k" * 64: "v" * 1024,
                                                       "_cleaned": ["text"]}
    assert wire.clean_text("a\x00b") == "ab" and wire.clean_text("é\x00") == "é"


def test_evidence_of_a_type_json_lacks_is_kept_as_short_text() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "o" * 100

    assert wire.clean_data({"raw": Opaque()}) == {"raw": "o" * 64, "_cleaned": ["type"]}
    assert wire.clean_data({"b": b"\x01"}) == {"b": "b'\\x01'", "_cleaned": ["type"]}


def test_a_cleaned_marker_sent_by_the_edge_is_replaced() -> None:
    assert wire.clean_data({"_cleaned": ["forged"], "a": 1}) == {"a": 1}
    with pytest.raises(ValueError, match="JSON object"):
        wire.clean_data([1, 2])
