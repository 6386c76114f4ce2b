"""The outbox keeps everything until acknowledged, life-safety first, and sheds only readings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.outbox import Outbox, OutboxUnavailable, Priority
from tests.edge.disk import fill, free

EVENTS = "bw/v1/home-1/events"


def test_call_put_after_a_backlog_of_readings_goes_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(1000):
        box.put("r", f"reading {i}".encode(), Priority.READINGS)
    box.put("e", b"bed_exit", Priority.EVENT)
    box.put("e", b"call", Priority.LIFE_SAFETY)
    first = box.peek(3)
    assert [r.payload for r in first] == [b"call", b"bed_exit", b"reading 0"]


def test_ack_deletes_only_acknowledged_rows(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(5):
        box.put("e", bytes([i]), Priority.EVENT)
    rows = box.peek(2)
    box.ack([r.id for r in rows])
    assert box.depth() == 3
    assert [r.payload for r in box.peek(10)] == [b"\x02", b"\x03", b"\x04"]


def test_rows_and_sequence_survive_reopening(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    seqs = [box.put("e", lambda s: str(s).encode(), Priority.EVENT) for _ in range(3)]
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert [r.payload for r in again.peek(10)] == [str(s).encode() for s in seqs]
    assert again.put("e", b"x", Priority.EVENT) == seqs[-1] + 1


def test_only_readings_are_shed_and_counted(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_reading_messages=100)
    for i in range(50):
        box.put("e", f"event {i}".encode(), Priority.EVENT)
    for i in range(250):
        box.put("r", f"reading {i}".encode(), Priority.READINGS)
    rows = box.peek(1000)
    events = [r for r in rows if r.priority == Priority.EVENT]
    readings = [r for r in rows if r.priority == Priority.READINGS]
    assert len(events) == 50
    assert readings[0].payload == b"reading 150"  # the oldest went
    assert len(readings) == 100
    assert box.counter("shed_readings") == 150


def test_replace_key_keeps_only_the_latest_status(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.put("s", b"old", Priority.STATUS, retain=True, replace_key="device/bed")
    box.put("s", b"new", Priority.STATUS, retain=True, replace_key="device/bed")
    rows = box.peek(10)
    assert [(r.payload, r.retain) for r in rows] == [(b"new", True)]


# -- durability settings ------------------------------------------------------------------------

def test_wal_and_full_sync_are_in_force_and_ack_commits(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    for i in range(3):
        box.put("r", bytes([i]), Priority.READINGS)
    box.ack([r.id for r in box.peek(2)])
    # Another connection sees the PUBACK marks: ack left no transaction open.
    assert not box._db.in_transaction
    with sqlite3.connect(tmp_path / "o.sqlite") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        (left,) = other.execute("SELECT count(*) FROM outbox WHERE acked IS NULL").fetchone()
        (held,) = other.execute("SELECT count(*) FROM outbox WHERE acked IS NOT NULL").fetchone()
    print(f"stored 3, acked 2, left on disk {left}, held for re-sending {held}")
    assert left == 1 and held == 2


# -- events wait for the hub's receipt ------------------------------------------------------------

def test_an_event_stays_after_puback_until_its_receipt(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.put(EVENTS, b"call", Priority.LIFE_SAFETY, event_id="call-0001")
    box.put("r", b"reading", Priority.READINGS)
    rows = box.peek(10)
    waiting = box.ack([r.id for r in rows])
    print(f"sent {len(rows)}, waiting for a receipt {len(waiting)}, depth {box.depth()}")
    assert len(waiting) == 1 and box.depth() == 1  # the reading went on PUBACK, the call stays
    assert box.peek(10) == []  # not sent again before its time
    assert box.requeue(waiting) == 1
    assert [r.payload for r in box.peek(10)] == [b"call"]  # same bytes again
    assert box.confirm(EVENTS, ["call-0001"]) == waiting
    assert box.depth() == 0 and box.peek(10) == []
    box.close()
    assert Outbox(tmp_path / "o.sqlite").depth() == 0


def test_a_receipt_removes_only_its_own_home_events(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.put(EVENTS, b"mine", Priority.EVENT, event_id="event-0001")
    box.put("bw/v1/home-2/events", b"other home", Priority.EVENT, event_id="event-0002")
    box.put("bw/v1/home-1/readings", b"reading", Priority.READINGS)
    reading_id = box.peek(10)[-1].id
    removed = box.confirm(EVENTS, ["event-0002", "unknown-0001", str(reading_id).zfill(8)])
    print(f"receipt named 3 ids, removed {len(removed)}, depth {box.depth()}")
    assert removed == [] and box.depth() == 3


def test_a_sent_event_survives_a_restart_and_is_sent_again(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.put(EVENTS, b"call", Priority.LIFE_SAFETY, event_id="call-0001")
    box.ack([r.id for r in box.peek(10)])
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert [r.payload for r in again.peek(10)] == [b"call"]
    assert again.confirm(EVENTS, ["call-0001"]) and again.depth() == 0


def test_an_outbox_from_the_previous_release_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT "
            "NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, retain INTEGER NOT NULL DEFAULT "
            "0, replace_key TEXT, created REAL NOT NULL);"
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
            "INSERT INTO outbox (priority, topic, payload, created) VALUES (0, 'e', X'6f6c64', 0);"
            "INSERT INTO counters VALUES ('seq', 7);")
    box = Outbox(path)
    assert [r.payload for r in box.peek(10)] == [b"old"]
    assert box.put(EVENTS, b"new", Priority.EVENT, event_id="event-0001") == 7
    box.ack([r.id for r in box.peek(10)])
    assert box.depth() == 1  # the old row went on PUBACK as before; the new one waits


# -- a disk that fails ---------------------------------------------------------------------

def test_a_full_disk_keeps_calls_in_memory_and_writes_them_back(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_memory_readings=3)
    filler = fill(box)
    assert box.error is not None and "full" in box.error
    seqs = [box.put(EVENTS, f"call {i}".encode(), Priority.LIFE_SAFETY,
                    event_id=f"call-{i:04d}") for i in range(5)]
    for i in range(10):
        box.put("bw/v1/home-1/readings", f"reading {i}".encode(), Priority.READINGS)
    held = box.memory_rows()
    shed = box.counter("shed_readings")
    print(f"filler {filler}, calls 5, readings 10, held in memory {held}, shed {shed}")
    assert held == 5 + 3 and shed == 7  # readings go first, calls never
    # Published straight from memory while the disk fails, life-safety first.
    first = box.peek(5)
    assert [r.payload for r in first] == [f"call {i}".encode() for i in range(5)]
    assert all(r.id < 0 for r in first)
    box.ack([first[0].id])  # one call was PUBACKed while in memory
    assert box.peek(100)[0].payload == b"call 1"

    free(box)
    assert box.retry() and box.error is None and box.memory_rows() == 0
    with sqlite3.connect(tmp_path / "o.sqlite") as other:
        ids = [r[0] for r in other.execute(
            "SELECT event_id FROM outbox WHERE event_id LIKE 'call-%' ORDER BY id")]
        (readings,) = other.execute("SELECT count(*) FROM outbox WHERE priority = 3").fetchone()
    print(f"written back: calls {len(ids)}, readings {readings}")
    assert ids == [f"call-{i:04d}" for i in range(5)]  # nothing lost, no id twice
    assert readings == 3
    # The call sent from memory still waits for its receipt under its disk id.
    assert box.awaiting_receipt() == 1 and box.peek(100)[0].payload == b"call 1"
    assert box.confirm(EVENTS, ["call-0000"])
    assert box.put(EVENTS, b"next", Priority.EVENT, event_id="next-0001") == seqs[-1] + 11
    assert box.counter("shed_readings") == 7  # the count reached the disk with the rows


def test_a_failed_statement_leaves_the_connection_usable(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    fill(box)
    for i in range(20):
        box.put(EVENTS, f"call {i}".encode(), Priority.LIFE_SAFETY, event_id=f"call-{i:04d}")
        assert not box._db.in_transaction
    assert box.disk_failures >= 20 or box.memory_rows() == 20
    free(box)
    box.retry()
    assert box.memory_rows() == 0 and box.depth() == 20


def test_a_missing_state_folder_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted" / "outbox.sqlite"
    with pytest.raises(OutboxUnavailable, match=str(missing.parent)):
        Outbox(missing)
    assert not missing.parent.exists()  # not created behind a missing mount
