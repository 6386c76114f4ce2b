"""The watchdog: the hub's own failures page the technicians once and resolve on recovery;
pages that fail on every channel are reported; a hanging channel does not hold up the
others; the heartbeat reaches an outside URL only while the hub is healthy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from bedwatch.kinds import kind_text
from hub.alerts import AlertEngine
from hub.config import WatchdogSection
from hub.db import Alert, Delivery
from hub.pager import DeliveryResult
from hub.watchdog import HubHealth, Watchdog, is_mass_outage
from tests.hub.conftest import RecordingNotifier
from tests.hub.engine import DESK, TECHS, clock_of, fire, make, who

HEALTHY = HubHealth(broker_connected=True, influx_ok=True, messages_received=0,
                    homes_online=3)


def hub_alerts(engine: AlertEngine) -> list[Alert]:
    with engine.sessions() as session:
        return list(session.scalars(select(Alert).where(Alert.home == "").order_by(Alert.id)))


@pytest.mark.parametrize(("kind", "broken", "after_s"), [
    ("broker_down", {"broker_connected": False}, 60.0),
    ("influx_down", {"influx_ok": False}, 300.0),
])
async def test_an_outage_past_its_threshold_pages_the_technicians_once_and_resolves(
        tmp_path: Path, notifier: RecordingNotifier, kind: str, broken: dict[str, Any],
        after_s: float) -> None:
    engine = make(tmp_path, notifier)
    dog = Watchdog(engine)
    clock = clock_of(engine)
    dog.check(HEALTHY)
    received = 0

    def down() -> HubHealth:
        nonlocal received
        received += 1  # homes keep talking where the broker is reachable
        return replace(HEALTHY, messages_received=received, **broken)

    start = clock.t
    while clock.t < start + after_s - 1:
        clock.t += 1
        assert dog.check(down()) == []
    assert hub_alerts(engine) == []
    clock.t = start + after_s + 1
    for _ in range(30):  # still down: no second alert, no second page
        assert dog.check(down()) == [kind]
        await engine.process_due_pages()
        clock.t += 0.5
    assert who(notifier) == ["tech"]
    assert kind_text(kind, "en") in notifier.sent[0][1] and "the hub itself" in notifier.sent[0][1]
    clock.t = start + 600
    assert dog.check(replace(HEALTHY, messages_received=received + 1)) == []
    [alert] = hub_alerts(engine)
    assert (alert.kind, alert.state, alert.data["outage_minutes"]) == (kind, "resolved", 10.0)
    assert alert.resolution_note is not None and alert.resolution_note.endswith(
        "after 10 min")


async def test_two_hubs_on_one_database_each_keep_their_own_outage(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    """Proves: a hub that lost the broker raises `broker_down` under its own name; another
    hub sharing the database, healthy, neither resolves it nor joins it, so the technicians
    are paged once (not once per tick as the two hubs undo each other), and the alert
    resolves when the hub that raised it is back."""
    first = make(tmp_path, notifier)
    second = AlertEngine(first.sessions, notifier, secret="k" * 32,
                         public_url="http://hub.test", clock=first.clock, config=first.config,
                         owner="hub-b")
    assert first.ownership.name != second.ownership.name
    dog_a, dog_b = Watchdog(first), Watchdog(second)
    clock = clock_of(first)
    for dog in (dog_a, dog_b):
        dog.check(HEALTHY)
    received = 0
    for _ in range(200):  # hub A cannot reach the broker for 200 s; hub B can
        clock.t += 1
        received += 1
        dog_a.check(replace(HEALTHY, broker_connected=False, messages_received=received))
        assert dog_b.check(replace(HEALTHY, messages_received=received)) == []
        await first.process_due_pages()
    [alert] = hub_alerts(first)
    assert (alert.kind, alert.device, alert.state) == ("broker_down", first.ownership.name,
                                                       "open")
    assert who(notifier) == ["tech"]
    clock.t += 60
    dog_a.check(replace(HEALTHY, messages_received=received + 1))
    [alert] = hub_alerts(first)
    assert alert.state == "resolved" and alert.resolved_by == "system"


async def test_silence_while_homes_are_online_is_ingest_stalled(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, watchdog={"ingest_silent_after_s": 120})
    dog = Watchdog(engine)
    clock = clock_of(engine)
    dog.check(replace(HEALTHY, messages_received=10))
    clock.t += 100
    dog.check(replace(HEALTHY, messages_received=11))  # still arriving
    clock.t += 119
    assert dog.check(replace(HEALTHY, messages_received=11)) == []
    clock.t += 1
    assert dog.check(replace(HEALTHY, messages_received=11)) == ["ingest_stalled"]
    clock.t += 60
    dog.check(replace(HEALTHY, messages_received=12))
    [alert] = hub_alerts(engine)
    assert alert.state == "resolved" and alert.data["outage_minutes"] == 3.0  # since 11th


def test_no_homes_online_is_not_a_stalled_ingest(tmp_path: Path,
                                                 notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    dog = Watchdog(engine)
    dog.check(replace(HEALTHY, homes_online=0))
    clock_of(engine).t += 3600
    assert dog.check(replace(HEALTHY, homes_online=0)) == []
    assert dog.check(replace(HEALTHY, homes_online=0, broker_connected=False)) == []


def test_an_open_outage_is_resolved_by_a_restarted_watchdog(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    dog = Watchdog(engine)
    dog.check(replace(HEALTHY, broker_connected=False))
    clock_of(engine).t += 61
    dog.check(replace(HEALTHY, broker_connected=False))
    Watchdog(engine).check(HEALTHY)  # a new process finds the broker back
    assert [a.state for a in hub_alerts(engine)] == ["resolved"]


async def test_a_person_unreachable_on_every_channel_is_reported_to_the_technicians(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, watchdog={"page_failures_before_alert": 2})
    notifier.failing.add("json://a/")
    fire(engine, "home-1", "fall")
    clock = clock_of(engine)
    await engine.process_due_pages()  # attempt 1
    assert hub_alerts(engine) == []
    clock.t += 5
    await engine.process_due_pages()  # attempt 2: both failed
    [alert] = hub_alerts(engine)
    assert (alert.kind, alert.data["people"]) == ("pages_failing", ["cg-a"])
    clock.t += 10
    await engine.process_due_pages()  # attempt 3 fails too: no second alert
    await engine.process_due_pages()
    assert who(notifier) == ["tech"]
    assert "people=['cg-a']" in notifier.sent[0][2]
    notifier.failing.clear()
    clock.t += 20
    await engine.process_due_pages()
    [alert] = hub_alerts(engine)
    assert alert.state == "resolved" and alert.resolution_note is not None
    assert alert.resolution_note.startswith("pages delivered again")


class HangingNotifier(RecordingNotifier):
    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        if url == "json://hangs/":
            await asyncio.Event().wait()
        return await super().deliver(url, title, body)


async def test_a_hanging_channel_times_out_and_the_next_channel_is_tried(
        tmp_path: Path) -> None:
    notifier = HangingNotifier()
    engine = make(tmp_path, notifier, pager={"delivery_timeout_s": 0.05}, caregivers=[
        {"id": "cg-a", "name": "A", "site": "town",
         "notify": ["json://hangs/", "json://a-sms/"]}])
    fire(engine, "home-1", "call", "btn")
    async with asyncio.timeout(5):
        assert await engine.process_due_pages() == 1
    assert who(notifier) == ["a-sms"]
    with engine.sessions() as session:
        [hung, ok] = session.scalars(select(Delivery).order_by(Delivery.id))
    assert (hung.ok, hung.error, ok.ok) == (False, "no answer within 0.05 s", True)


@pytest.mark.parametrize(("offline", "total", "expected"), [
    (1, 1, False),  # one home is that home's problem
    (2, 100, False), (4, 100, False), (5, 100, True),  # count
    (2, 10, True), (2, 11, False),  # 20 % of all homes
])
def test_what_counts_as_many_homes(offline: int, total: int, expected: bool) -> None:
    assert is_mass_outage(offline, total, WatchdogSection()) is expected


class _Checks(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dead_mans_switch() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Checks,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ping/bedwatch-hub", hits
    finally:
        server.shutdown()
        server.server_close()


async def test_heartbeat_is_sent_every_interval_only_while_healthy(
        tmp_path: Path, notifier: RecordingNotifier,
        dead_mans_switch: tuple[str, list[str]]) -> None:
    url, hits = dead_mans_switch
    engine = make(tmp_path, notifier, heartbeat={"url": url, "every_s": 30},
                  desk=DESK, technicians=TECHS)
    dog = Watchdog(engine)
    clock = clock_of(engine)
    await dog.run_once(HEALTHY)
    assert hits == ["/ping/bedwatch-hub"]
    clock.t += 29
    await dog.run_once(HEALTHY)
    assert len(hits) == 1  # not due yet
    clock.t += 1
    await dog.run_once(HEALTHY)
    assert len(hits) == 2
    down = replace(HEALTHY, broker_connected=False)
    await dog.run_once(down)
    clock.t += 61
    await dog.run_once(down)  # past the threshold: unhealthy, the outside notices silence
    clock.t += 300
    await dog.run_once(down)
    assert len(hits) == 2
    await dog.run_once(HEALTHY)
    assert len(hits) == 3 and dog.counters["heartbeats"] == 3


async def test_heartbeat_failure_is_counted_not_raised(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, heartbeat={"url": "http://127.0.0.1:9/none",
                                                 "timeout_s": 1})
    dog = Watchdog(engine)
    dog.check(HEALTHY)
    assert await dog.beat() is False
    assert dog.counters["heartbeat_failures"] == 1
