"""The durable outbox: every message is committed to SQLite before it is published.

A row leaves the outbox only after the broker's PUBACK. Life-safety events go first, then
other events, then status, then readings; first in, first out within a priority. Only
reading batches may be shed, oldest first, once `max_reading_messages` wait.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path


class Priority(IntEnum):
    """Delivery order: lower goes first."""

    LIFE_SAFETY = 0
    EVENT = 1
    STATUS = 2
    READINGS = 3


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    retain: bool
    priority: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    priority INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    replace_key TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (priority, id);
CREATE INDEX IF NOT EXISTS outbox_replace ON outbox (replace_key);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Outbox:
    """A SQLite-backed queue of MQTT messages waiting for their PUBACK."""

    def __init__(self, path: Path | str, *, max_reading_messages: int = 100_000) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_reading_messages = max_reading_messages
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed row survives a power cut, not only a crash of this process.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._reading_rows = self._count(Priority.READINGS)

    def close(self) -> None:
        self._db.close()

    def _count(self, priority: Priority) -> int:
        (n,) = self._db.execute("SELECT count(*) FROM outbox WHERE priority = ?",
                                (int(priority),)).fetchone()
        return int(n)

    def _bump(self, name: str, by: int = 1) -> int:
        row = self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value",
            (name, by),
        ).fetchone()
        return int(row[0])

    def counter(self, name: str) -> int:
        """Return a persisted counter (e.g. 'shed_readings')."""
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def put(self, topic: str, payload: bytes | Callable[[int], bytes], priority: Priority, *,
            retain: bool = False, replace_key: str | None = None) -> int:
        """Commit one message; return its sequence number.

        `payload` may be a function of the sequence number, so that the number written
        into the message and the persisted counter are taken in one transaction.
        `replace_key` drops an older unsent row with the same key (latest status wins).
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = self._bump("seq") - 1
            body = payload(seq) if callable(payload) else payload
            if replace_key is not None:
                db.execute("DELETE FROM outbox WHERE replace_key = ?", (replace_key,))
            db.execute(
                "INSERT INTO outbox (priority, topic, payload, retain, replace_key, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (int(priority), topic, body, int(retain), replace_key, time.time()),
            )
            if priority is Priority.READINGS:
                self._reading_rows += 1
                excess = self._reading_rows - self.max_reading_messages
                if excess > 0:
                    db.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE priority = ? "
                        "ORDER BY id LIMIT ?)", (int(Priority.READINGS), excess))
                    self._bump("shed_readings", excess)
                    self._reading_rows -= excess
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._reading_rows = self._count(Priority.READINGS)
            raise
        return seq

    def peek(self, limit: int = 100) -> list[OutboxRow]:
        """Return the next rows to publish, in delivery order."""
        rows = self._db.execute(
            "SELECT id, topic, payload, retain, priority FROM outbox ORDER BY priority, id LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), bool(r[3]), r[4]) for r in rows]

    def ack(self, ids: list[int]) -> None:
        """Delete rows the broker has acknowledged."""
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        (readings,) = db.execute(
            f"SELECT count(*) FROM outbox WHERE priority = ? AND id IN ({marks})",
            (int(Priority.READINGS), *ids),
        ).fetchone()
        db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)
        db.execute("COMMIT")
        self._reading_rows -= int(readings)

    def depth(self) -> int:
        """Return how many messages wait."""
        (n,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(n)
