"""The outbox at its edges: what reaches the file, a disk that fails and recovers, and the
bookkeeping (counts, counters, retries) that decides what is kept and what is shed."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import edge.outbox
from edge.outbox import RETRY_INTERVAL_S, Outbox, OutboxUnavailable, Priority
from tests.edge.disk import fill, lift

EVENTS = "bw/v1/home-1/events"
READINGS = "bw/v1/home-1/readings"


def _mine(box: Outbox) -> list[bytes]:
    """Return the payloads queued by the test, without the filler that fills the disk."""
    return [r.payload for r in box.peek(100_000) if "/filler/" not in r.topic]


class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def mono(monkeypatch: pytest.MonkeyPatch) -> Iterator[Monotonic]:
    """The outbox's monotonic clock, advanced by the test."""
    clock = Monotonic()
    monkeypatch.setattr(edge.outbox, "time", SimpleNamespace(monotonic=clock, time=time.time))
    yield clock


class DyingCard:
    """A connection on an SD card that starts failing writes, reads, or both (SQLITE_IOERR)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.writes_fail = False
        self.reads_fail = False
        self.inserts_fail = False  # the transaction opens, the row does not fit

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        verb = sql.split()[0].upper()
        reading = verb == "SELECT"
        if (reading and self.reads_fail) or (verb == "INSERT" and self.inserts_fail) or \
                (not reading and verb != "ROLLBACK" and self.writes_fail):
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def _card(box: Outbox) -> DyingCard:
    card = DyingCard(box._db)
    box._db = card  # type: ignore[assignment]
    return card


def _on_disk(path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(path) as other:
        return [r[0] if len(r) == 1 else r for r in other.execute(sql)]


def _open_fds(path: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    out = []
    for fd in os.listdir(fds):
        try:
            target = os.readlink(fds / fd)
        except OSError:
            continue
        if target.startswith(str(path)):
            out.append(target)
    return out


# -- what reaches the file ----------------------------------------------------------------------

def test_priority_numbers_are_stable_and_status_is_never_shed(tmp_path: Path) -> None:
    # The numbers are stored in the file and read back by the next release.
    assert [(p.name, int(p)) for p in Priority] == [
        ("LIFE_SAFETY", 0), ("EVENT", 1), ("STATUS", 2), ("READINGS", 3)]
    box = Outbox(tmp_path / "o.sqlite", max_reading_messages=2)
    for i in range(5):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    for i in range(3):
        box.put("bw/v1/home-1/status", f"status {i}".encode(), Priority.STATUS,
                replace_key=f"device/{i}")
    assert [r.payload for r in box.peek(10)] == [
        b"status 0", b"status 1", b"status 2", b"reading 3", b"reading 4"]
    assert box.counter("shed_readings") == 3


def test_every_field_comes_back_from_the_file_as_it_was_put(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.put(EVENTS, b"call", Priority.LIFE_SAFETY, event_id="call-0001")
    box.put("bw/v1/home-1/status/agent", b"online", Priority.STATUS, retain=True,
            replace_key="agent")
    box.put("bw/v1/home-1/status/bed", b"ok", Priority.STATUS, replace_key="device/bed")
    box.put(READINGS, b"batch", Priority.READINGS)
    expected = [
        (EVENTS, b"call", False, 0, "call-0001"),
        ("bw/v1/home-1/status/agent", b"online", True, 2, None),
        ("bw/v1/home-1/status/bed", b"ok", False, 2, None),
        (READINGS, b"batch", False, 3, None)]
    assert [(r.topic, r.payload, r.retain, r.priority, r.event_id)
            for r in box.peek(10)] == expected
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert [(r.topic, r.payload, r.retain, r.priority, r.event_id)
            for r in again.peek(10)] == expected


def test_a_new_outbox_numbers_from_zero_and_reports_no_failure(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.error is None and box.disk_failures == 0 and box.depth() == 0
    assert [box.put(EVENTS, b"e", Priority.EVENT) for _ in range(3)] == [0, 1, 2]
    assert box.counter("shed_readings") == 0


def test_full_sync_is_set_even_where_the_library_defaults_lower(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connect = sqlite3.connect

    def lax_build(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = connect(*args, **kwargs)
        db.execute("PRAGMA synchronous=OFF")  # as some distributions compile SQLite
        return db

    monkeypatch.setattr(edge.outbox.sqlite3, "connect", lax_build)
    box = Outbox(tmp_path / "o.sqlite")
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_each_start_is_written_to_disk(tmp_path: Path) -> None:
    for _ in range(3):
        Outbox(tmp_path / "o.sqlite").close()
    assert _on_disk(tmp_path / "o.sqlite", "SELECT value FROM counters WHERE name = 'opened'") \
        == [3]


def test_closing_checkpoints_the_file_and_lets_it_go(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    box.put(EVENTS, b"call", Priority.LIFE_SAFETY, event_id="call-0001")
    assert Path(f"{path}-wal").exists()
    box.close()
    assert not Path(f"{path}-wal").exists()  # everything is in the one file
    assert _open_fds(path) == []


def test_a_file_that_is_not_an_outbox_is_refused_and_let_go(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    path.write_bytes(b"not a database, a log file written here by mistake\n" * 100)
    with pytest.raises(OutboxUnavailable, match=str(path)) as refused:
        Outbox(path)
    assert refused.value is not None and _open_fds(path) == []


def test_acking_many_readings_at_once_deletes_them_all() -> None:
    box = Outbox(":memory:")
    for i in range(1200):
        box.put(READINGS, str(i).encode(), Priority.READINGS)
    assert box.ack([r.id for r in box.peek(1200)]) == []
    assert box.depth() == 0 and box.peek(10) == []


def test_acked_readings_free_their_place_under_the_limit(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_reading_messages=3)
    for i in range(3):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    box.ack([r.id for r in box.peek(2)])
    for i in range(3, 5):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    assert [r.payload for r in box.peek(10)] == [b"reading 2", b"reading 3", b"reading 4"]
    assert box.counter("shed_readings") == 0


def test_requeue_without_ids_puts_every_sent_event_back(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(2):
        box.put(EVENTS, f"call {i}".encode(), Priority.LIFE_SAFETY, event_id=f"call-{i:04d}")
    assert len(box.ack([r.id for r in box.peek(10)])) == 2
    assert box.awaiting_receipt() == 2 and box.peek(10) == []
    assert box.requeue() == 2
    assert box.awaiting_receipt() == 0
    assert [r.payload for r in box.peek(10)] == [b"call 0", b"call 1"]


# -- a disk that fails and recovers -------------------------------------------------------------

def test_a_failing_disk_is_tried_again_once_a_second_and_keeps_the_order(
        tmp_path: Path, mono: Monotonic) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    fill(box)
    failures = box.disk_failures

    def call(i: int) -> None:
        box.put(EVENTS, f"call {i}".encode(), Priority.LIFE_SAFETY, event_id=f"call-{i:04d}")

    call(0)  # the disk is tried and refuses
    call(1)  # tried again (a second has passed since the last retry) and refuses
    assert box.disk_failures == failures + 2 and box.memory_rows() == 2
    lift(box)
    call(2)  # within the second: not tried, kept behind the others
    assert box.memory_rows() == 3 and box.disk_failures == failures + 2
    assert box.retry(force=False) is False and box.error is not None
    mono.t += RETRY_INTERVAL_S
    assert RETRY_INTERVAL_S == 1.0
    call(3)
    assert box.memory_rows() == 0 and box.error is None
    assert _on_disk(tmp_path / "o.sqlite",
                    "SELECT event_id FROM outbox WHERE event_id LIKE 'call-%' ORDER BY id") \
        == [f"call-{i:04d}" for i in range(4)]


def test_an_explicit_retry_is_not_held_back_by_the_interval(
        tmp_path: Path, mono: Monotonic) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    fill(box)
    box.put(EVENTS, b"call 0", Priority.LIFE_SAFETY, event_id="call-0000")
    assert box.retry() is False  # still full
    lift(box)
    assert box.retry() is True and box.memory_rows() == 0 and box.error is None
    assert box.retry() is True


def test_closing_writes_back_what_memory_holds(tmp_path: Path, mono: Monotonic) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    fill(box)
    filler = len(box.peek(100_000))
    for i in range(2):
        box.put(EVENTS, f"call {i}".encode(), Priority.LIFE_SAFETY, event_id=f"call-{i:04d}")
    lift(box)
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert _mine(again) == [b"call 0", b"call 1"]
    assert again.depth() == filler + 2


def test_a_status_replaced_in_memory_leaves_held_calls_alone(
        tmp_path: Path, mono: Monotonic) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    fill(box)
    box.put(EVENTS, b"call", Priority.LIFE_SAFETY, event_id="call-0001")
    box.put("bw/v1/home-1/status/bed", b"bed old", Priority.STATUS, replace_key="device/bed")
    box.put("bw/v1/home-1/status/agent", b"agent", Priority.STATUS, replace_key="agent")
    box.put("bw/v1/home-1/status/bed", b"bed new", Priority.STATUS, replace_key="device/bed")
    assert _mine(box) == [b"call", b"agent", b"bed new"]
    assert box.memory_rows() == 3


def test_readings_shed_in_memory_are_counted_as_such(tmp_path: Path, mono: Monotonic) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_memory_readings=2)
    fill(box)
    for i in range(5):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    assert _mine(box) == [b"reading 3", b"reading 4"]
    assert box.counter("shed_readings") == 3
    assert box.counter("shed_readings_memory") == 3


def test_write_back_sheds_the_oldest_readings_beyond_the_limit_and_counts_them(
        tmp_path: Path, mono: Monotonic) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_reading_messages=4, max_memory_readings=10)
    for i in range(3):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    fill(box)
    for i in range(3, 6):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    lift(box)
    assert box.retry()
    assert _on_disk(path, "SELECT payload FROM outbox WHERE priority = 3 ORDER BY id") == [
        f"reading {i}".encode() for i in range(2, 6)]
    assert box.counter("shed_readings") == 2
    box.close()
    assert Outbox(path).counter("shed_readings") == 2


def test_acks_taken_while_the_disk_is_full_reach_it_later(
        tmp_path: Path, mono: Monotonic) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    for i in range(3):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    fill(box)
    filler = len(box.peek(100_000)) - 3
    readings = [r.id for r in box.peek(100_000) if r.priority == Priority.READINGS]
    box.ack(readings)
    assert box.depth() == filler
    assert all(r.priority != Priority.READINGS for r in box.peek(100_000))  # not sent twice
    lift(box)
    assert box.retry()
    assert _on_disk(path, "SELECT count(*) FROM outbox WHERE priority = 3") == [0]
    assert box.depth() == filler
    assert all(r.priority != Priority.READINGS for r in box.peek(100_000))


def test_a_delete_the_disk_refuses_is_kept_and_done_later(
        tmp_path: Path, mono: Monotonic) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    for i in range(3):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    first, second, _ = (r.id for r in box.peek(10))
    card = _card(box)
    card.writes_fail = True
    box.ack([first])  # the delete fails
    assert box.error is not None and "disk I/O error" in box.error
    assert box.disk_failures == 1 and not card.in_transaction
    box.ack([second])  # the disk is known to fail: the delete waits
    assert [r.payload for r in box.peek(10)] == [b"reading 2"]  # neither is sent again
    assert box.depth() == 1
    card.writes_fail = False
    assert box.retry() and box.error is None
    assert _on_disk(path, "SELECT payload FROM outbox") == [b"reading 2"]
    assert box.depth() == 1 and [r.payload for r in box.peek(10)] == [b"reading 2"]


def test_a_card_that_stops_reading_still_publishes_memory_and_estimates_depth(
        tmp_path: Path, mono: Monotonic) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(2):
        box.put(EVENTS, f"event {i}".encode(), Priority.EVENT, event_id=f"event-{i:04d}")
    for i in range(3):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    card = _card(box)
    card.writes_fail = True
    box.put(READINGS, b"reading 3", Priority.READINGS)  # kept in memory
    assert box.memory_rows() == 1 and box.depth() == 6
    card.reads_fail = True
    failures = box.disk_failures
    assert [r.payload for r in box.peek(10)] == [b"reading 3"]
    assert box.disk_failures == failures + 1 and box.error is not None
    assert box.depth() == 2 + 3 + 1  # events, readings on disk, and memory
    assert box.counter("shed_readings") == 0
    box.put(READINGS, b"reading 4", Priority.READINGS)  # the write-back is tried and fails
    assert box.memory_rows() == 2 and box.depth() == 2 + 3 + 2


def test_a_write_that_fails_inside_its_transaction_is_rolled_back(
        tmp_path: Path, mono: Monotonic) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    card = _card(box)
    card.inserts_fail = True
    box.put(EVENTS, b"call", Priority.LIFE_SAFETY, event_id="call-0001")
    assert box.memory_rows() == 1 and not card.in_transaction
    card.inserts_fail = False
    assert box.retry() and box.memory_rows() == 0
    assert _on_disk(path, "SELECT event_id FROM outbox") == ["call-0001"]


def test_an_ack_after_the_disk_heals_writes_the_deletes_at_once(
        tmp_path: Path, mono: Monotonic) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    for i in range(2):
        box.put(READINGS, f"reading {i}".encode(), Priority.READINGS)
    first, second = (r.id for r in box.peek(10))
    card = _card(box)
    card.writes_fail = True
    box.ack([first])
    assert box.error is not None
    card.writes_fail = False
    mono.t += RETRY_INTERVAL_S
    box.ack([second])
    assert box.error is None
    assert _on_disk(path, "SELECT count(*) FROM outbox") == [0]


def test_a_confirmed_event_no_longer_waits_and_peek_gives_100_by_default(
        tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.put(EVENTS, b"call", Priority.LIFE_SAFETY, event_id="call-0001")
    assert box.ack([r.id for r in box.peek()]) and box.awaiting_receipt() == 1
    assert box.confirm(EVENTS, ["call-0001"]) and box.awaiting_receipt() == 0
    for i in range(150):
        box.put(READINGS, str(i).encode(), Priority.READINGS)
    assert len(box.peek()) == 100
