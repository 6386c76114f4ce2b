"""The outbox keeps everything until acknowledged, life-safety first, and sheds only readings."""

from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox, Priority


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
