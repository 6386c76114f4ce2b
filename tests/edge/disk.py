"""Make an outbox's SQLite file genuinely full (SQLITE_FULL), and give the space back.

The file is capped at its size (`PRAGMA max_page_count`) and then filled the way a real
outbox fills a disk: with messages that wait (events without a receipt stay on disk).
"""

from __future__ import annotations

from edge.outbox import Outbox, Priority

_NO_LIMIT = 1_073_741_823  # SQLite's default max_page_count


def fill(box: Outbox, topic: str = "bw/v1/filler/events") -> int:
    """Cap the file and queue filler events until the disk refuses one; return how many fit."""
    db = box._db
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages + 2}")
    stored = 0
    for size in (200, 20, 0):  # smaller and smaller until not one more byte fits
        while True:
            event_id = f"filler-{stored:08d}"
            box.put(topic, b"f" * size, Priority.EVENT, event_id=event_id)
            stored += 1
            if box.memory_rows():
                # The refused filler sits in memory; drop it so tests see only their own rows.
                box.confirm(topic, [event_id])
                break
    assert box.error is not None and box.memory_rows() == 0
    return stored

def lift(box: Outbox) -> None:
    """Lift the cap and keep the filler: the disk has room again."""
    box._db.execute(f"PRAGMA max_page_count = {_NO_LIMIT}")


def free(box: Outbox, topic: str = "bw/v1/filler/events") -> None:
    """Lift the cap and forget the filler: the disk works again."""
    lift(box)
    box.confirm(topic, [f"filler-{i:08d}" for i in range(100_000)])
