"""The durable outbox: every message is committed to SQLite before it is published.

Life-safety events go first, then other events, then status, then readings; first in, first
out within a priority. Status leaves the outbox on the broker's PUBACK. An event stays after
its PUBACK (marked sent, in memory) until the hub's receipt names its id; a sent event is put
back in the queue by `requeue` when the receipt does not come.

A reading batch stays after its PUBACK too, marked `acked` on disk, for `resend_window_s`:
a broker killed between two saves of its store forgets what it acknowledged since the last
one, so on every reconnect `resend_held` puts the batches acknowledged within the window
before the latest PUBACK back in the queue (same bytes: InfluxDB overwrites the same points
identically). Held batches are bounded by count and bytes as well as time, and are the first
reading rows shed under pressure.

A disk that fails (full, read-only, I/O errors) never makes `put` raise: the row is kept in
memory and published from there, the failure is exposed as `error`, and `retry` writes the
rows back to SQLite once the disk works again. Only reading batches are ever shed, oldest
first (held ones before waiting ones), once `max_reading_messages` are on disk or
`max_memory_readings` in memory. While the disk fails, a PUBACKed batch leaves as before.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from bedwatch.configfile import ConfigError

log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Delivery order: lower goes first."""

    LIFE_SAFETY = 0
    EVENT = 1
    STATUS = 2
    READINGS = 3


class OutboxUnavailable(ConfigError):
    """The outbox file cannot be opened or written at start; the message names the path."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message waiting to be published; `id` < 0 while it lives in memory only."""

    id: int
    topic: str
    payload: bytes
    retain: bool
    priority: int
    event_id: str | None = None


@dataclass(slots=True)
class _MemoryRow:
    row: OutboxRow
    replace_key: str | None
    created: float


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
# Added after the first release: an outbox file from an older agent is upgraded in place.
_ADDED_COLUMNS = {"event_id": "ALTER TABLE outbox ADD COLUMN event_id TEXT",
                  # wall-clock time of the PUBACK of a reading batch held for re-sending
                  "acked": "ALTER TABLE outbox ADD COLUMN acked REAL"}
# Rows still to publish, in order, without walking the held batches.
_WAITING_INDEX = ("CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (priority, id) "
                  "WHERE acked IS NULL")

# What a failing disk raises through sqlite3 (full, read-only, I/O error, corrupt, locked).
_DISK_ERRORS = (sqlite3.Error, OSError)
# How often a put may try a failing disk again (the agent also retries on its own tick).
RETRY_INTERVAL_S = 1.0


class Outbox:
    """A SQLite-backed queue of MQTT messages, with a memory fallback for a failing disk."""

    def __init__(self, path: Path | str, *, max_reading_messages: int = 100_000,
                 max_memory_readings: int = 200, resend_window_s: float = 120.0,
                 max_resend_messages: int = 10_000, max_resend_bytes: int = 16 * 2**20,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.max_reading_messages = max_reading_messages
        self.max_memory_readings = max_memory_readings
        self.resend_window_s = resend_window_s
        self.max_resend_messages = max_resend_messages
        self.max_resend_bytes = max_resend_bytes
        # PUBACKed reading batches kept for re-sending, oldest first: row id -> (acked, bytes)
        self._held: OrderedDict[int, tuple[float, int]] = OrderedDict()
        self._held_bytes = 0
        self._wall = wall_clock
        self.error: str | None = None  # the disk failure in force, None when healthy
        self.disk_failures = 0  # failed write attempts since start
        self._memory: dict[int, _MemoryRow] = {}  # rows the disk refused, in arrival order
        self._next_memory_id = -1
        self._gone: set[int] = set()  # disk rows deleted here whose DELETE has not reached disk
        self._moved: dict[int, int] = {}  # memory id -> disk id after a write-back
        self._sent: set[int] = set()  # events PUBACKed, waiting for the hub's receipt
        self._events: dict[str, tuple[int, str]] = {}  # event id -> (row id, topic)
        self._unsaved_counters: dict[str, int] = {}
        self._last_retry = -RETRY_INTERVAL_S
        self._db = self._open(str(path))
        try:
            self._seq = self._read_counter("seq")
            self._reading_rows = self._count(Priority.READINGS)
            for row_id, event_id, topic in self._db.execute(
                    "SELECT id, event_id, topic FROM outbox WHERE event_id IS NOT NULL"):
                self._events[event_id] = (int(row_id), topic)
            # Held batches survive a restart of the agent: the window runs on the wall clock.
            for row_id, acked, size in self._db.execute(
                    "SELECT id, acked, length(payload) FROM outbox WHERE acked IS NOT NULL "
                    "ORDER BY acked, id"):
                self._held[int(row_id)] = (float(acked), int(size))
                self._held_bytes += int(size)
        except sqlite3.Error as exc:
            self._db.close()
            raise OutboxUnavailable(f"cannot read the outbox {self.path}: {exc}") from exc

    def _open(self, path: str) -> sqlite3.Connection:
        if path != ":memory:":
            folder = self.path.parent
            # A missing state folder means a missing mount: writing elsewhere would hide it.
            if not folder.is_dir():
                raise OutboxUnavailable(f"state folder {folder} for the outbox {self.path} "
                                        "does not exist")
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise OutboxUnavailable(f"cannot open the outbox {self.path}: {exc}") from exc
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if path != ":memory:" and str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, not wal")
            # FULL: a committed row survives a power cut, not only a crash of this process.
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            columns = {r[1] for r in db.execute("PRAGMA table_info(outbox)")}
            for column, alter in _ADDED_COLUMNS.items():
                if column not in columns:
                    db.execute(alter)
            db.execute(_WAITING_INDEX)
            # Prove the folder takes writes now rather than at the first call.
            db.execute("INSERT INTO counters (name, value) VALUES ('opened', 1) "
                       "ON CONFLICT (name) DO UPDATE SET value = value + 1")
        except sqlite3.Error as exc:
            db.close()
            raise OutboxUnavailable(f"cannot write the outbox {self.path}: {exc}") from exc
        return db

    def close(self) -> None:
        """Write back what memory holds if the disk allows, then close the file."""
        if self._memory or self._gone or self._unsaved_counters:
            self.retry()
        if self._memory:
            log.error("outbox closed with %d message(s) the disk refused: %s",
                      len(self._memory), self.error)
        self._db.close()

    # -- disk helpers --------------------------------------------------------------------------

    def _rollback(self) -> None:
        # Only when a transaction is open: a ROLLBACK without one raises and hides the cause.
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.warning("outbox rollback failed: %s", exc)

    def _failed(self, exc: BaseException, what: str) -> None:
        self._rollback()
        self.disk_failures += 1
        message = f"{type(exc).__name__}: {exc}"
        if self.error is None:
            log.error("outbox disk failed while %s (%s): keeping messages in memory",
                      what, message)
        self.error = message

    def _count(self, priority: Priority) -> int:
        (n,) = self._db.execute("SELECT count(*) FROM outbox WHERE priority = ? "
                                "AND acked IS NULL", (int(priority),)).fetchone()
        return int(n)

    def _read_counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def _bump_counter(self, name: str, by: int) -> None:
        self._unsaved_counters[name] = self._unsaved_counters.get(name, 0) + by

    def _save_counters(self) -> None:
        # Inside the caller's transaction: counters reach the disk with the rows they count.
        self._db.execute("INSERT INTO counters (name, value) VALUES ('seq', ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                         (self._seq,))
        for name, by in self._unsaved_counters.items():
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", (name, by))

    def counter(self, name: str) -> int:
        """Return a counter (e.g. 'shed_readings'), including what memory has not saved yet."""
        try:
            saved = self._read_counter(name)
        except _DISK_ERRORS:
            saved = 0
        return saved + self._unsaved_counters.get(name, 0)

    def _insert(self, row: OutboxRow, replace_key: str | None, created: float) -> int:
        db = self._db
        if replace_key is not None:
            db.execute("DELETE FROM outbox WHERE replace_key = ?", (replace_key,))
        cursor = db.execute(
            "INSERT INTO outbox (priority, topic, payload, retain, replace_key, created, event_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row.priority, row.topic, row.payload, int(row.retain), replace_key, created,
             row.event_id))
        return int(cursor.lastrowid or 0)

    def _shed_disk_readings(self) -> int:
        """Keep reading rows on disk within `max_reading_messages`; return waiting rows shed.

        Held batches go first (the broker had them), counted as `shed_resend`.
        """
        excess = self._reading_rows + len(self._held) - self.max_reading_messages
        if excess <= 0:
            return 0
        held = list(self._held)[:excess]
        if held:
            self._delete_disk(held)
            self._drop_held(held)
            self._bump_counter("shed_resend", len(held))
            excess -= len(held)
        if excess <= 0:
            return 0
        self._db.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE priority = ? "
            "AND acked IS NULL ORDER BY id LIMIT ?)", (int(Priority.READINGS), excess))
        return excess

    def _drop_held(self, ids: Iterable[int]) -> None:
        for row_id in ids:
            _, size = self._held.pop(row_id)
            self._held_bytes -= size

    # -- the queue -----------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes | Callable[[int], bytes], priority: Priority, *,
            retain: bool = False, replace_key: str | None = None,
            event_id: str | None = None) -> int:
        """Commit one message; return its sequence number. Never raises for disk trouble.

        `payload` may be a function of the sequence number, so that the number written into
        the message and the persisted counter move together; a ValueError it raises (a
        message that breaks the contract) propagates and consumes no number. `replace_key`
        drops an older unsent row with the same key (latest status wins). `event_id` makes
        the row wait for the hub's receipt after its PUBACK.
        """
        seq = self._seq
        body = payload(seq) if callable(payload) else payload
        row = OutboxRow(0, topic, body, retain, int(priority), event_id)
        created = self._wall()
        self._seq += 1
        if self._memory or self._gone:
            self.retry(force=False)  # keep the order: nothing goes to disk ahead of memory
        if not self._memory and not self._gone:
            saved = dict(self._unsaved_counters)
            try:
                self._put_disk(row, replace_key, created)
                return seq
            except Exception as exc:  # whatever the disk or driver did, the message is kept
                self._failed(exc, "storing a message")
                self._unsaved_counters = saved
                self._reload_held()
        self._put_memory(row, replace_key, created)
        return seq

    def _put_disk(self, row: OutboxRow, replace_key: str | None, created: float) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        row_id = self._insert(row, replace_key, created)
        reading_rows = self._reading_rows + (row.priority == Priority.READINGS)
        shed = 0
        if row.priority == Priority.READINGS:
            self._reading_rows = reading_rows
            shed = self._shed_disk_readings()
            if shed:
                self._bump_counter("shed_readings", shed)
        self._save_counters()
        db.execute("COMMIT")
        self._reading_rows = reading_rows - shed
        self._unsaved_counters.clear()
        if row.event_id is not None:
            self._events[row.event_id] = (row_id, row.topic)

    def _safe_count(self, priority: Priority) -> int:
        try:
            return self._count(priority)
        except _DISK_ERRORS:
            return self._reading_rows

    def _put_memory(self, row: OutboxRow, replace_key: str | None, created: float) -> None:
        row_id = self._next_memory_id
        self._next_memory_id -= 1
        if replace_key is not None:
            for old_id, old in list(self._memory.items()):
                if old.replace_key == replace_key:
                    del self._memory[old_id]
        stored = OutboxRow(row_id, row.topic, row.payload, row.retain, row.priority,
                           row.event_id)
        self._memory[row_id] = _MemoryRow(stored, replace_key, created)
        if row.event_id is not None:
            self._events[row.event_id] = (row_id, row.topic)
        if row.priority == Priority.READINGS:
            readings = [i for i, m in self._memory.items() if m.row.priority == Priority.READINGS]
            # Memory is bounded: bulk data goes first, events never.
            for old_id in readings[:max(0, len(readings) - self.max_memory_readings)]:
                del self._memory[old_id]
                self._sent.discard(old_id)
                self._bump_counter("shed_readings", 1)
                self._bump_counter("shed_readings_memory", 1)

    def retry(self, *, force: bool = True) -> bool:
        """Write memory-held rows and pending deletes back to SQLite; return True when healthy.

        Without `force`, a failing disk is tried at most once per RETRY_INTERVAL_S.
        """
        if not (self._memory or self._gone or self.error):
            return True
        now = time.monotonic()
        if not force and now - self._last_retry < RETRY_INTERVAL_S:
            return False
        self._last_retry = now
        db = self._db
        moved: dict[int, int] = {}
        saved = dict(self._unsaved_counters)
        try:
            db.execute("BEGIN IMMEDIATE")
            if self._gone:
                self._delete_disk(sorted(self._gone))
            for memory_id, held in self._memory.items():
                moved[memory_id] = self._insert(held.row, held.replace_key, held.created)
            self._reading_rows = self._count(Priority.READINGS)
            shed = self._shed_disk_readings()
            if shed:
                self._bump_counter("shed_readings", shed)
            self._save_counters()
            db.execute("COMMIT")
        except Exception as exc:  # the disk still fails: keep holding, try again later
            self._failed(exc, "writing back held messages")
            self._unsaved_counters = saved
            self._reload_held()
            return False
        self._unsaved_counters.clear()
        self._gone.clear()
        for memory_id, disk_id in moved.items():
            held = self._memory[memory_id]
            if held.row.event_id is not None:
                self._events[held.row.event_id] = (disk_id, held.row.topic)
            if memory_id in self._sent:
                self._sent.discard(memory_id)
                self._sent.add(disk_id)
            self._moved[memory_id] = disk_id
        written = len(self._memory)
        self._memory.clear()
        if self.error is not None:
            log.warning("outbox disk works again (%d held message(s) written back) after: %s",
                        written, self.error)
        self.error = None
        return True

    def _delete_disk(self, ids: list[int]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))})",
                             chunk)

    def _resolve(self, row_id: int) -> int:
        return self._moved.get(row_id, row_id)

    def peek(self, limit: int = 100) -> list[OutboxRow]:
        """Return the next rows to publish, in delivery order (sent events excluded)."""
        skip = [i for i in self._sent | self._gone if i > 0]
        try:
            if skip:
                rows = self._db.execute(
                    "SELECT id, topic, payload, retain, priority, event_id FROM outbox "
                    "WHERE acked IS NULL AND id NOT IN (SELECT value FROM json_each(?)) "
                    "ORDER BY priority, id LIMIT ?", (json.dumps(skip), limit)).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT id, topic, payload, retain, priority, event_id FROM outbox "
                    "WHERE acked IS NULL ORDER BY priority, id LIMIT ?", (limit,)).fetchall()
        except _DISK_ERRORS as exc:
            # Reads can fail too: what memory holds is still published.
            self._failed(exc, "reading queued messages")
            rows = []
        out = [OutboxRow(r[0], r[1], bytes(r[2]), bool(r[3]), r[4], r[5]) for r in rows]
        if self._memory:
            held = [m.row for m in self._memory.values() if m.row.id not in self._sent]
            # Disk rows are older than memory rows of the same priority.
            out = sorted(out + held, key=lambda r: (r.priority, r.id < 0, abs(r.id)))
        return out[:limit]

    def ack(self, ids: Iterable[int]) -> list[int]:
        """Take the broker's PUBACK: hold reading batches, delete status, mark events sent.

        Return the ids of the events now waiting for a receipt.
        """
        resolved = [self._resolve(i) for i in ids]
        waiting_ids = {row_id for row_id, _ in self._events.values()}
        waiting = [i for i in resolved if i in waiting_ids]
        self._sent.update(waiting)
        rest = [i for i in resolved if i not in waiting_ids]
        self._forget(rest if self.resend_window_s <= 0 else self._hold(rest))
        return waiting

    def _hold(self, ids: list[int]) -> list[int]:
        """Mark the reading batches among `ids` as held; return the ids still to forget."""
        on_disk = [i for i in ids if i > 0 and i not in self._gone]
        if not on_disk or self._memory or self._gone or self.error:
            return ids  # a failing disk: PUBACK releases them, as before
        db = self._db
        now = self._wall()
        saved = dict(self._unsaved_counters)
        try:
            db.execute("BEGIN IMMEDIATE")
            marks = ",".join("?" * len(on_disk))
            held = db.execute(
                f"UPDATE outbox SET acked = ? WHERE priority = ? AND id IN ({marks}) "
                "RETURNING id, length(payload)", (now, int(Priority.READINGS), *on_disk)
            ).fetchall()
            for row_id, size in sorted(held):
                self._held[int(row_id)] = (now, int(size))
                self._held_bytes += int(size)
            self._reading_rows -= len(held)
            self._expire_held()
            self._save_counters()
            db.execute("COMMIT")
        except Exception as exc:  # nothing marked: they leave on PUBACK as before
            self._failed(exc, "holding delivered readings")
            self._unsaved_counters = saved
            self._reload_held()
            self._gone.update(on_disk)  # deleted once the disk works again
            return [i for i in ids if i not in self._gone]
        self._unsaved_counters.clear()
        kept = {int(r[0]) for r in held}
        return [i for i in ids if i not in kept]

    def _expire_held(self) -> None:
        """Delete held batches past the window, then the oldest beyond the count and bytes.

        The window counts back from the latest PUBACK, not from now: after an outage of any
        length (or a clock stepped forward meanwhile) the batches the broker acknowledged
        last before it went are still there to send again.
        """
        if not self._held:
            return
        latest = next(reversed(self._held.values()))[0]
        old = [i for i, (acked, _) in self._held.items()
               if acked < latest - self.resend_window_s]
        self._drop_held(old)
        over: list[int] = []
        count, size = len(self._held), self._held_bytes
        for row_id, (_, row_size) in self._held.items():
            if count <= self.max_resend_messages and size <= self.max_resend_bytes:
                break
            over.append(row_id)
            count -= 1
            size -= row_size
        self._drop_held(over)
        if over:
            self._bump_counter("shed_resend", len(over))
        if old or over:
            self._delete_disk(old + over)

    def _reload_held(self) -> None:
        """Read the held batches and the waiting count again after a failed transaction."""
        self._reading_rows = self._safe_count(Priority.READINGS)
        try:
            rows = self._db.execute("SELECT id, acked, length(payload) FROM outbox "
                                    "WHERE acked IS NOT NULL ORDER BY acked, id").fetchall()
        except _DISK_ERRORS:
            return  # the memory view stays; the next reconnect reads the disk again
        self._held = OrderedDict((int(i), (float(a), int(n))) for i, a, n in rows)
        self._held_bytes = sum(n for _, n in self._held.values())

    def resend_held(self) -> int:
        """Put the batches PUBACKed within the window back in the queue; return how many.

        Called on every connection to the broker: one that died between two saves has lost
        them.
        """
        if not self._held:
            return 0
        db = self._db
        saved = dict(self._unsaved_counters)
        try:
            db.execute("BEGIN IMMEDIATE")
            self._expire_held()
            ids = list(self._held)
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                db.execute(f"UPDATE outbox SET acked = NULL WHERE id IN "
                           f"({','.join('?' * len(chunk))})", chunk)
            self._save_counters()
            db.execute("COMMIT")
        except Exception as exc:  # held on disk still: the next reconnect tries again
            self._failed(exc, "re-queueing held readings")
            self._unsaved_counters = saved
            self._reload_held()
            return 0
        self._unsaved_counters.clear()
        self._held.clear()
        self._held_bytes = 0
        self._reading_rows += len(ids)
        return len(ids)

    def held(self) -> int:
        """Return how many reading batches are held for re-sending after their PUBACK."""
        return len(self._held)

    def confirm(self, topic: str, event_ids: Iterable[str]) -> list[int]:
        """Forget events the hub has stored; return the row ids removed.

        Only event rows on `topic` (the home's event topic) match: a receipt can never
        remove a reading, a status or another home's event.
        """
        removed: list[int] = []
        for event_id in set(event_ids):
            found = self._events.get(event_id)
            if found is None or found[1] != topic:
                continue
            removed.append(found[0])
        if removed:
            self._forget(removed)
        return removed

    def _forget(self, ids: list[int]) -> None:
        if not ids:
            return
        for row_id in ids:
            self._sent.discard(row_id)
        by_row = {row_id: event_id for event_id, (row_id, _) in self._events.items()}
        for row_id in ids:
            event_id = by_row.get(row_id)
            if event_id is not None:
                del self._events[event_id]
        held = [i for i in ids if i < 0]
        for row_id in held:
            self._memory.pop(row_id, None)
        on_disk = [i for i in ids if i > 0 and i not in self._gone]
        if not on_disk:
            return
        if self._memory or self._gone or self.error:
            self.retry(force=False)
        if self.error is not None:
            self._gone.update(on_disk)
            return
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            marks = ",".join("?" * len(on_disk))
            (readings,) = db.execute(
                f"SELECT count(*) FROM outbox WHERE priority = ? AND id IN ({marks})",
                (int(Priority.READINGS), *on_disk)).fetchone()
            self._delete_disk(on_disk)
            db.execute("COMMIT")
            self._reading_rows -= int(readings)
        except Exception as exc:  # kept as a pending delete, written back by retry
            self._failed(exc, "deleting delivered messages")
            self._gone.update(on_disk)
        forgotten = set(ids)
        self._moved = {k: v for k, v in self._moved.items() if v not in forgotten}

    def requeue(self, ids: Iterable[int] | None = None) -> int:
        """Put sent events back in the queue (all when `ids` is None); return how many."""
        if ids is None:
            count = len(self._sent)
            self._sent.clear()
            self._moved.clear()  # nothing is in flight between two connections
            return count
        resolved = {self._resolve(i) for i in ids} & self._sent
        self._sent -= resolved
        return len(resolved)

    def awaiting_receipt(self) -> int:
        """Return how many events were PUBACKed and wait for the hub's receipt."""
        return len(self._sent)

    def memory_rows(self) -> int:
        """Return how many rows live in memory only because the disk refused them."""
        return len(self._memory)

    def depth(self) -> int:
        """Return how many messages wait, events waiting for a receipt included (held
        reading batches not: `held`)."""
        try:
            (n,) = self._db.execute("SELECT count(*) FROM outbox WHERE acked IS NULL").fetchone()
            on_disk = int(n)
        except _DISK_ERRORS:
            on_disk = len(self._events) + self._reading_rows
        return on_disk - len(self._gone) + len(self._memory)
