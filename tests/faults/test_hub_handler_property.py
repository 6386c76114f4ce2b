"""Whatever passes the wire contract, the hub's handler stores or ignores it and never raises:
arbitrary messages of every channel, at the edges of every bound, into a real SQLite store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedwatch import wire
from hub.service import Hub
from tests.hub.conftest import RecordingNotifier, site_config

ids = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,63}\Z")
event_ids = st.from_regex(r"\A[A-Za-z0-9_.:-]{8,80}\Z")
kinds = st.sampled_from([*wire.DEFAULT_SEVERITY, "agent_offline", "unknown_kind"]) | \
    st.from_regex(r"\A[a-z][a-z0-9_]{0,47}\Z")
big_ints = st.sampled_from([0, 1, wire.INT64_MAX, wire.INT64_MIN, 2**53 + 1])
numbers = st.integers(wire.INT64_MIN, wire.INT64_MAX) | big_ints | \
    st.floats(allow_nan=False, allow_infinity=False)
texts = st.text(max_size=300)
times = st.floats(0, wire.MAX_PLAUSIBLE_T) | st.sampled_from([0.0, wire.MIN_PLAUSIBLE_T,
                                                              wire.MAX_PLAUSIBLE_T])
json_any = st.recursive(st.none() | st.booleans() | numbers | texts | st.integers(),
                        lambda c: st.lists(c, max_size=5) | st.dictionaries(texts, c,
                                                                            max_size=5),
                        max_leaves=30)
field_values = st.booleans() | numbers | st.text(max_size=256)
field_names = st.from_regex(r"\A[a-z][a-z0-9_]{0,47}\Z")

events = st.fixed_dictionaries({
    "v": st.just(1), "id": event_ids, "seq": st.integers(0, wire.INT64_MAX), "t": times,
    "device": ids, "kind": kinds, "severity": st.sampled_from([s.value for s in wire.Severity]),
    "data": st.dictionaries(texts, json_any, max_size=6)},
    optional={"clock_untrusted": st.booleans()})
statuses = st.fixed_dictionaries({
    "v": st.just(1), "agent": st.just("home-1"), "state": st.sampled_from(["online", "offline"])},
    optional={"t": times, "version": st.text(max_size=64), "uptime_s": st.floats(0, 1e10),
              "outbox_depth": st.integers(0, wire.INT64_MAX), "clock_synced": st.booleans(),
              "devices": st.lists(ids, max_size=5)})
device_statuses = st.fixed_dictionaries({
    "v": st.just(1), "device": st.just("bed"), "t": times, "connected": st.booleans(),
    "errors": st.dictionaries(field_names, st.integers(0, wire.INT64_MAX), max_size=32)},
    optional={"battery_pct": st.floats(0, 100), "last_seen": times})
batches = st.fixed_dictionaries({
    "v": st.just(1), "agent": st.just("home-1"), "seq": st.integers(0, wire.INT64_MAX),
    "readings": st.lists(st.fixed_dictionaries({
        "device": ids, "kind": field_names,
        "t": st.floats(wire.MIN_PLAUSIBLE_T, wire.MAX_PLAUSIBLE_T),
        "fields": st.dictionaries(field_names, field_values, min_size=1, max_size=8)}),
        min_size=1, max_size=5)})
acks = st.fixed_dictionaries({"v": st.just(1), "id": event_ids, "t": times, "ok": st.booleans(),
                              "detail": st.text(max_size=100)})

MESSAGES = st.one_of(
    st.tuples(st.sampled_from(["home-1", "home-unknown"]), st.just("events"), events),
    st.tuples(st.just("home-1"), st.just("status"), statuses),
    st.tuples(st.just("home-1"), st.just("devices/bed/status"), device_statuses),
    st.tuples(st.just("home-1"), st.just("readings"), batches),
    st.tuples(st.just("home-1"), st.just("cmd/ack"), acks),
)


def test_the_handler_never_raises_on_anything_the_contract_admits(tmp_path: Path) -> None:
    """Proves: a message that decodes is always stored or ignored, never an exception."""
    hub = Hub(site_config(tmp_path), notifier=RecordingNotifier())
    handled = {"accepted": 0, "rejected": 0}

    @settings(max_examples=250, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(MESSAGES)
    def check(message: tuple[str, str, dict]) -> None:
        home, channel, body = message
        payload = json.dumps(body).encode("utf-8", "surrogatepass")
        try:
            decoded = wire.decode(f"bw/v1/{home}/{channel}", payload)
        except wire.WireError:
            handled["rejected"] += 1
            return
        asyncio.run(hub.handle(*decoded))
        handled["accepted"] += 1

    try:
        check()
    finally:
        hub.engine.dispose()
    print(f"messages accepted and handled={handled['accepted']} rejected={handled['rejected']}")
    assert handled["accepted"] > 100  # the generator reaches the handler, not only the decoder
