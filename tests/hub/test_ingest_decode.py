"""The readings lane's fast decode accepts exactly what the strict models accept, and formats
exactly the lines they would: on valid batches, on batches broken in every way hypothesis finds,
and on bytes that are not JSON at all."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedwatch import wire
from hub.lineprotocol import reading_lines, row_lines

HOME = "home-7"
TOPIC = wire.readings_topic(HOME)

ids = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,63}\Z")
names = st.from_regex(r"\A[a-z][a-z0-9_]{0,47}\Z")
numbers = (st.floats(allow_nan=False, allow_infinity=False)
           | st.integers(wire.INT64_MIN, wire.INT64_MAX)
           | st.sampled_from([0, -0.0, 0.0, 1, 1.0, 2**63, -(2**63) - 1, 2**64, 10**30,
                              wire.INT64_MAX, wire.INT64_MIN, 5e-324, 1e16, 60.0, 60.5]))
values = (st.booleans() | numbers
          | st.text(st.characters(blacklist_categories=["Cs"]), max_size=8))
times = (st.floats(wire.MIN_PLAUSIBLE_T, wire.MAX_PLAUSIBLE_T)
         | st.integers(int(wire.MIN_PLAUSIBLE_T), int(wire.MAX_PLAUSIBLE_T))
         | st.sampled_from([wire.MIN_PLAUSIBLE_T, wire.MAX_PLAUSIBLE_T]))
readings = st.fixed_dictionaries({
    "device": ids, "kind": names, "t": times,
    "fields": st.dictionaries(names, values, min_size=1, max_size=6)})
batches = st.fixed_dictionaries({
    "v": st.just(1), "agent": st.just(HOME), "seq": st.integers(0, wire.INT64_MAX),
    "readings": st.lists(readings, min_size=1, max_size=4)})

# Anything JSON can hold, to put where it does not belong.
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=6)
hostile_strings = st.sampled_from([
    "", "Bed", "bed\n", "bed ", "a" * 65, "x" * 49, "-bed", "_x", "1abc", "ünï", "home-7\n",
    "home-8", "\ud800"])


@st.composite
def broken(draw: st.DrawFn) -> dict[str, Any]:
    """A valid batch with one part replaced, removed or added."""
    batch = draw(batches)
    reading = draw(st.sampled_from(batch["readings"]))
    where = draw(st.sampled_from(["batch", "reading", "fields"]))
    target = {"batch": batch, "reading": reading, "fields": reading["fields"]}[where]
    action = draw(st.sampled_from(["replace", "remove", "add", "string"]))
    key = draw(st.sampled_from(sorted(target)) if target else st.just("x"))
    if action == "remove":
        target.pop(key, None)
    elif action == "add":
        target[draw(st.text(max_size=5) | hostile_strings)] = draw(json_values)
    elif action == "string":
        target[key] = draw(hostile_strings)
    else:
        target[key] = draw(json_values | hostile_strings)
    return batch


def _payloads() -> st.SearchStrategy[bytes]:
    def dumps(batch: dict[str, Any]) -> bytes:
        return json.dumps(batch).encode()  # ensure_ascii: lone surrogates as escapes
    return (batches.map(dumps) | broken().map(dumps)
            | st.sampled_from([b"", b"[]", b"null", b"{", b'{"v":1}', b"\xff\xfe{}",
                               b'\xef\xbb\xbf{"v":1}', b'{"v":NaN}', b"1e400",
                               b'{"v":1,"agent":"home-7","seq":1,"readings":[' + b"[" * 3000])
            | st.binary(max_size=40))


def _exact(value: Any) -> Any:
    """Make values comparable with their types: 1, 1.0, True and -0.0 all differ."""
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return (type(value).__name__, repr(value))


def strict(payload: bytes) -> Any:
    try:
        _, _, _, message = wire.decode(TOPIC, payload)
    except wire.WireError as exc:
        return ("rejected", exc.code)
    assert isinstance(message, wire.ReadingBatch)
    rows = wire.BatchRows.of(message)
    return ("accepted", rows.agent, rows.seq, _exact(rows.readings),
            reading_lines(HOME, message.readings))


def fast(payload: bytes) -> Any:
    try:
        home, rows = wire.decode_batch(TOPIC, payload)
    except wire.WireError as exc:
        return ("rejected", exc.code)
    assert home == HOME
    return ("accepted", rows.agent, rows.seq, _exact(rows.readings),
            row_lines(HOME, rows.readings))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_payloads())
def test_fast_decode_agrees_with_the_models_on_any_payload(payload: bytes) -> None:
    """Proves: same verdict, same rejection class, same rows and same lines as the models."""
    assert fast(payload) == strict(payload)


@settings(max_examples=100, deadline=None)
@given(batches)
def test_valid_batches_take_the_fast_path(batch: dict[str, Any]) -> None:
    """Proves: a plain valid batch (numbers and booleans only) never needs the models."""
    for reading in batch["readings"]:
        reading["fields"] = {k: v for k, v in reading["fields"].items()
                             if not isinstance(v, str) and
                             (not isinstance(v, int) or wire.INT64_MIN <= v <= wire.INT64_MAX)}
        reading["fields"] = reading["fields"] or {"x": 1.0}
    assert wire._fast_rows(HOME, orjson.dumps(batch)) is not None


def test_what_the_fast_path_leaves_to_the_models_is_still_decided_by_them() -> None:
    """Proves: strings, NaN, a version of True, a newline after a name: each gets the models'
    verdict (accepted, or rejected with their reason class) through `decode_batch`."""
    reading = {"device": "bed", "kind": "vitals", "t": 1.8e9, "fields": {"note": "ok"}}
    cases = {
        "string field": ({"v": 1, "agent": HOME, "seq": 1, "readings": [reading]}, "accepted"),
        "version true": ({"v": True, "agent": HOME, "seq": 1, "readings": [reading]}, None),
        "device newline": ({"v": 1, "agent": HOME, "seq": 1,
                            "readings": [{**reading, "device": "bed\n"}]}, "schema"),
        "no version": ({"agent": HOME, "seq": 1, "readings": [reading]}, "version"),
        "float seq": ({"v": 1, "agent": HOME, "seq": 2.0, "readings": [reading]}, None),
    }
    for name, (batch, expected) in cases.items():
        payload = json.dumps(batch).encode()
        assert wire._fast_rows(HOME, payload) is None, name
        outcome = fast(payload)
        assert outcome == strict(payload), name
        if expected is not None:
            assert expected in outcome, (name, outcome)
    nan = b'{"v":1,"agent":"home-7","seq":1,"readings":[{"device":"bed","kind":"vitals",' \
          b'"t":1.8e9,"fields":{"x":NaN}}]}'
    assert fast(nan) == strict(nan) == ("rejected", "schema")


def test_a_batch_on_another_channel_is_refused() -> None:
    """Proves: the readings decoder takes readings topics only."""
    payload = json.dumps({"v": 1, "agent": HOME, "seq": 1, "readings": []}).encode()
    for topic in (wire.events_topic(HOME), "bw/v1/Home/readings", "x/readings"):
        try:
            wire.decode_batch(topic, payload)
        except wire.WireError as exc:
            assert exc.code in {"topic", "schema"}
        else:
            raise AssertionError(topic)
