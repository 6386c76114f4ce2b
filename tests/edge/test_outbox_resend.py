"""Reading batches stay after their PUBACK for the resend window and go again on reconnect:
a broker killed between two saves of its store forgets what it acknowledged since the last."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.outbox import Outbox, Priority

READINGS = "bw/v1/home-1/readings"
EVENTS = "bw/v1/home-1/events"
STATUS = "bw/v1/home-1/status"


class Wall:
    """An injected wall clock the test moves by hand."""

    def __init__(self, t: float = 1_764_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _publish_all(box: Outbox) -> list[bytes]:
    rows = box.peek(1000)
    box.ack([r.id for r in rows])
    return [r.payload for r in rows]


def _disk(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as other:
        return other.execute(sql).fetchall()


def test_acknowledged_batches_are_held_and_resent_after_events_on_reconnect(
        tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", wall_clock=Wall())
    for i in range(3):
        box.put(READINGS, f"batch {i}".encode(), Priority.READINGS)
    box.put(STATUS, b"online", Priority.STATUS)
    sent = _publish_all(box)
    print(f"published {len(sent)}; held {box.held()}, waiting {box.depth()}")
    assert box.held() == 3 and box.depth() == 0 and box.peek(10) == []
    box.put(EVENTS, b"call", Priority.LIFE_SAFETY, event_id="call-0001")
    box.put(READINGS, b"batch 3", Priority.READINGS)
    assert box.resend_held() == 3 and box.held() == 0
    # The status went on PUBACK; the held batches come back, same bytes, before newer ones.
    assert [r.payload for r in box.peek(10)] == [b"call", b"batch 0", b"batch 1", b"batch 2",
                                                 b"batch 3"]
    assert box.resend_held() == 0  # nothing held until they are acknowledged again


def test_the_window_counts_back_from_the_last_puback_not_from_the_reconnect(
        tmp_path: Path) -> None:
    wall = Wall()
    path = tmp_path / "o.sqlite"
    box = Outbox(path, resend_window_s=120.0, wall_clock=wall)
    box.put(READINGS, b"old", Priority.READINGS)
    _publish_all(box)
    wall.t += 130.0
    box.put(READINGS, b"recent", Priority.READINGS)
    _publish_all(box)  # "old" was acknowledged 130 s before: deleted now
    assert _disk(path, "SELECT payload FROM outbox") == [(b"recent",)]
    wall.t += 600.0  # the broker stays away ten minutes
    assert box.resend_held() == 1
    assert [r.payload for r in box.peek(10)] == [b"recent"]
    assert box.counter("shed_resend") == 0  # expiry is the window doing its job, not shedding


def test_expired_batches_are_deleted_on_the_next_acknowledgement(tmp_path: Path) -> None:
    wall = Wall()
    path = tmp_path / "o.sqlite"
    box = Outbox(path, resend_window_s=60.0, wall_clock=wall)
    for i in range(5):
        box.put(READINGS, f"batch {i}".encode(), Priority.READINGS)
        _publish_all(box)
        wall.t += 20.0
    # Acknowledged at 0, 20, 40, 60, 80 s; the last ack at 80 s keeps those within 60 s.
    held = _disk(path, "SELECT payload FROM outbox WHERE acked IS NOT NULL ORDER BY id")
    print(f"held on disk: {held}")
    assert held == [(b"batch 1",), (b"batch 2",), (b"batch 3",), (b"batch 4",)]
    assert box.held() == 4


def test_held_batches_are_bounded_by_count_and_bytes_and_the_excess_counted(
        tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_resend_messages=4, max_resend_bytes=1000,
                 wall_clock=Wall())
    for i in range(6):
        box.put(READINGS, bytes([i]) * 100, Priority.READINGS)
    _publish_all(box)
    assert box.held() == 4 and box.counter("shed_resend") == 2
    box.put(READINGS, b"x" * 800, Priority.READINGS)  # 4 × 100 + 800 bytes > 1000
    _publish_all(box)
    print(f"held {box.held()}, shed {box.counter('shed_resend')}")
    assert box.held() == 3 and box.counter("shed_resend") == 4
    assert box.resend_held() == 3
    assert [len(r.payload) for r in box.peek(10)] == [100, 100, 800]


def test_held_batches_are_shed_first_when_the_disk_queue_is_full(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_reading_messages=5, wall_clock=Wall())
    for i in range(3):
        box.put(READINGS, f"held {i}".encode(), Priority.READINGS)
    _publish_all(box)
    for i in range(4):
        box.put(READINGS, f"waiting {i}".encode(), Priority.READINGS)
    # 3 held + 4 waiting > 5: two held batches go, no waiting one.
    print(f"held {box.held()}, shed held {box.counter('shed_resend')}, "
          f"shed waiting {box.counter('shed_readings')}")
    assert box.held() == 1 and box.counter("shed_resend") == 2
    assert box.counter("shed_readings") == 0 and box.depth() == 4
    box.put(READINGS, b"waiting 4", Priority.READINGS)
    box.put(READINGS, b"waiting 5", Priority.READINGS)
    assert box.held() == 0 and box.counter("shed_resend") == 3
    assert box.counter("shed_readings") == 1
    assert box.peek(10)[0].payload == b"waiting 1"


def test_held_batches_survive_a_restart_of_the_agent(tmp_path: Path) -> None:
    wall = Wall()
    path = tmp_path / "o.sqlite"
    box = Outbox(path, wall_clock=wall)
    for i in range(3):
        box.put(READINGS, f"batch {i}".encode(), Priority.READINGS)
    sent = _publish_all(box)
    box.close()
    wall.t += 10.0
    again = Outbox(path, wall_clock=wall)
    print(f"after a restart: held {again.held()}, waiting {again.depth()}")
    assert again.held() == 3 and again.depth() == 0
    assert again.resend_held() == 3
    assert [r.payload for r in again.peek(10)] == sent


def test_a_restart_after_a_long_stop_still_resends_the_last_window(tmp_path: Path) -> None:
    wall = Wall()
    path = tmp_path / "o.sqlite"
    box = Outbox(path, resend_window_s=120.0, wall_clock=wall)
    box.put(READINGS, b"older", Priority.READINGS)
    _publish_all(box)
    wall.t += 200.0
    box.put(READINGS, b"last", Priority.READINGS)
    _publish_all(box)
    box.close()
    wall.t += 3600.0  # the agent (and perhaps the broker) away an hour
    again = Outbox(path, resend_window_s=120.0, wall_clock=wall)
    assert again.held() == 1 and again.resend_held() == 1
    assert [r.payload for r in again.peek(10)] == [b"last"]
    assert _disk(path, "SELECT count(*) FROM outbox") == [(1,)]


def test_a_zero_window_deletes_on_puback_as_before(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, resend_window_s=0.0, wall_clock=Wall())
    box.put(READINGS, b"batch", Priority.READINGS)
    _publish_all(box)
    assert box.held() == 0 and box.resend_held() == 0
    assert _disk(path, "SELECT count(*) FROM outbox") == [(0,)]


def test_an_outbox_from_an_older_agent_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT "
            "NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, retain INTEGER NOT NULL DEFAULT "
            "0, replace_key TEXT, created REAL NOT NULL, event_id TEXT);"
            "INSERT INTO outbox (priority, topic, payload, created) "
            f"VALUES ({int(Priority.READINGS)}, '{READINGS}', x'6f6c64', 0);")
    box = Outbox(path, wall_clock=Wall())
    assert [r.payload for r in box.peek(10)] == [b"old"]
    _publish_all(box)
    assert box.held() == 1 and box.resend_held() == 1
