"""The hub's one InfluxDB seam: the v1 HTTP API (`/write`, `/query`), which InfluxDB 1.x,
2.x (v1-compatibility endpoints) and 3.x all serve.

Readings are written durably: each message's lines are handed over with `add_durable`, which
returns a `Ticket` that is stored once InfluxDB has taken every batch holding them; only then
does ingest acknowledge the message to the broker. Batches of `batch_size` lines are written
by `writers` tasks at once, as soon as a batch is full, the oldest line has waited
`flush_interval_s`, or ingest asks (`flush_soon`, its window of unacknowledged messages is
full); a batch that fails is retried with backoff until InfluxDB takes it. Device status and
event markers are best effort (`add`): held up to `max_buffer_points`, the oldest shed beyond.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx
from influxdb_client import Point, WritePrecision

from bedwatch import wire
from bedwatch.connection import Backoff, Link, Recovery
from hub.config import InfluxSection
from hub.lineprotocol import reading_line

log = logging.getLogger(__name__)


def reading_point(home: str, reading: wire.Reading) -> str:
    """Return the line-protocol line of one reading (every number written as a float)."""
    return reading_line(home, reading)


def event_point(home: str, event: wire.Event, t: float | None = None) -> str:
    """Return the line-protocol line that puts an event on the dashboards' time line.

    `t` overrides the event's own time (the hub's receive time when the edge clock is wrong).
    """
    point = (Point("events").tag("home", home).tag("device", event.device)
             .tag("kind", event.kind).tag("severity", event.severity.value)
             .field("id", event.id).field("count", 1.0)
             .time(round((event.t if t is None else t) * 1e9), WritePrecision.NS))
    return str(point.to_line_protocol())


class InfluxError(RuntimeError):
    """InfluxDB answered with an error."""


class Ticket:
    """The lines of one message: stored once every batch that holds them is written."""

    __slots__ = ("_callbacks", "_open", "_sealed", "cancelled", "stored")

    def __init__(self) -> None:
        self._open = 0  # batches holding some of its lines, not yet written
        self._sealed = False  # all its lines are in batches
        self._callbacks: list[Callable[[], None]] = []
        self.stored = False
        self.cancelled = False

    def when_stored(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the lines are in InfluxDB (at once if they are)."""
        if self.stored:
            callback()
        else:
            self._callbacks.append(callback)

    def cancel(self) -> None:
        """Give up waiting: lines not yet in a batch are dropped (the broker sends them again)."""
        self.cancelled = True
        self._callbacks.clear()

    def _all_sealed(self) -> None:
        self._sealed = True
        if self._open == 0:
            self._stored()

    def _batch_written(self) -> None:
        self._open -= 1
        if self._open == 0 and self._sealed:
            self._stored()

    def _stored(self) -> None:
        self.stored = True
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


class _Batch:
    __slots__ = ("durable", "lines", "tickets")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.tickets: list[Ticket] = []
        self.durable = 0  # lines of messages (readings), the rest best effort


class InfluxWriter:
    """Write lines in batches, several at once; retry each until InfluxDB takes it."""

    def __init__(self, config: InfluxSection, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._loose: deque[str] = deque()  # best effort
        self._held: deque[tuple[Ticket, list[str]]] = deque()  # durable, not yet in a batch
        self._held_lines = 0
        self._in_batches = 0  # lines in batches not yet written
        self._durable_in_batches = 0  # of which lines of messages
        self._leftover: list[_Batch] = []  # batches a stopped writer did not get written
        self._first_at: float | None = None  # when the oldest unbatched line arrived
        self._urgent = False
        self._wake = asyncio.Event()
        # `readings_written`: the lines of `add_durable` among `written`.
        self.counters = {"written": 0, "readings_written": 0, "shed": 0, "rejected": 0,
                         "write_errors": 0, "batches": 0}
        self.reachable = False
        self.link = Link("InfluxDB", Backoff(min_s=0.5, max_s=30.0))
        self._shed_reported = False

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.config.username:
            params["u"] = self.config.username
            params["p"] = self.config.password or ""
        return params

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.config.token}"} if self.config.token else {}

    async def query(self, influxql: str, *, database: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL; return the series of the first statement."""
        response = await self._client.post(
            f"{self.config.url}/query", headers=self._headers(),
            data=self._params(q=influxql, db=database or self.config.database, epoch="ms"))
        if response.status_code >= 400:
            raise InfluxError(f"query failed ({response.status_code}): {response.text[:300]}")
        result = response.json()["results"][0]
        if "error" in result:
            raise InfluxError(result["error"])
        return list(result.get("series", []))

    async def ensure_database(self) -> None:
        """Create the database if it does not exist (idempotent)."""
        await self.query(f'CREATE DATABASE "{self.config.database}"')
        self.reachable = True

    def _arrived(self) -> None:
        if self._first_at is None:
            self._first_at = time.monotonic()
            self._wake.set()
        if self._unbatched >= self.config.batch_size:
            self._wake.set()

    def add(self, lines: list[str]) -> None:
        """Queue best-effort lines; shed the oldest of them beyond `max_buffer_points`."""
        self._loose.extend(lines)
        excess = len(self._loose) - self.config.max_buffer_points
        if excess > 0:
            for _ in range(excess):
                self._loose.popleft()
            self.counters["shed"] += excess
            if not self._shed_reported:  # once per outage: the count says the rest
                self._shed_reported = True
                log.error("InfluxDB away: shedding the oldest device-status and event points "
                          "(%d so far; counted as influx.shed)", self.counters["shed"])
        self._arrived()

    def add_durable(self, lines: list[str]) -> Ticket:
        """Queue the lines of one message; return the ticket that says when they are stored."""
        ticket = Ticket()
        if not lines:
            ticket._all_sealed()
            return ticket
        self._held.append((ticket, lines))
        self._held_lines += len(lines)
        self._arrived()
        return ticket

    def flush_soon(self) -> None:
        """Write what is held now rather than at the next interval."""
        if self._unbatched:
            self._urgent = True
            self._wake.set()

    @property
    def _unbatched(self) -> int:
        return len(self._loose) + self._held_lines

    @property
    def pending(self) -> int:
        """Lines not yet written, in batches or waiting for one."""
        return self._unbatched + self._in_batches

    @property
    def pending_durable(self) -> int:
        """Lines of messages (readings) not yet written."""
        return self._held_lines + self._durable_in_batches

    def _ready(self) -> bool:
        held = self._unbatched
        if held >= self.config.batch_size:
            return True
        return held > 0 and (self._urgent or self._first_at is None or
                             time.monotonic() - self._first_at >= self.config.flush_interval_s)

    def _seal(self) -> _Batch:
        """Take up to `batch_size` lines into a batch: best-effort ones first, then messages'."""
        batch, room = _Batch(), self.config.batch_size
        while self._loose and room:
            batch.lines.append(self._loose.popleft())
            room -= 1
        while self._held and room:
            ticket, lines = self._held[0]
            if ticket.cancelled:
                self._held.popleft()
                self._held_lines -= len(lines)
                continue
            part = lines if len(lines) <= room else lines[:room]
            batch.lines.extend(part)
            batch.durable += len(part)
            ticket._open += 1
            batch.tickets.append(ticket)
            room -= len(part)
            self._held_lines -= len(part)
            if len(part) == len(lines):
                self._held.popleft()
                ticket._sealed = True
            else:
                self._held[0] = (ticket, lines[len(part):])
        self._in_batches += len(batch.lines)
        self._durable_in_batches += batch.durable
        if self._unbatched:
            self._first_at = time.monotonic()
        else:
            self._first_at, self._urgent = None, False
        return batch

    async def _write(self, batch: _Batch) -> None:
        """Write one batch; raise on a failure worth retrying, keeping the batch."""
        if not self.reachable:
            # Not `ensure_database`: only a write that worked says InfluxDB takes writes.
            await self.query(f'CREATE DATABASE "{self.config.database}"')
        response = await self._client.post(
            f"{self.config.url}/write", headers=self._headers(),
            params=self._params(db=self.config.database, precision="ns"),
            content="\n".join(batch.lines).encode())
        if response.status_code >= 500 or response.status_code in (401, 403, 404, 429):
            self.reachable = False
            raise InfluxError(f"write failed ({response.status_code}): {response.text[:300]}")
        self.reachable = True
        self._in_batches -= len(batch.lines)
        self._durable_in_batches -= batch.durable
        self.counters["batches"] += 1
        if response.status_code >= 400:
            # Bad points stay bad: InfluxDB wrote the good ones; count the rest, move on.
            self.counters["rejected"] += len(batch.lines)
            log.error("InfluxDB rejected part of a batch: %s", response.text[:300])
        else:
            self.counters["written"] += len(batch.lines)
            self.counters["readings_written"] += batch.durable
        for ticket in batch.tickets:
            ticket._batch_written()

    async def flush(self) -> None:
        """Write everything held now (the writer not running); raise on failure, keeping it."""
        while self._leftover:
            await self._write(self._leftover[0])
            self._leftover.pop(0)
        while self._unbatched:
            batch = self._seal()
            try:
                await self._write(batch)
            except BaseException:
                self._leftover.append(batch)
                raise

    async def _next_batch(self, stop: asyncio.Event) -> _Batch | None:
        while not stop.is_set():
            if self._ready():
                return self._seal()
            self._wake.clear()
            timeout = self.config.flush_interval_s
            if self._first_at is not None:
                timeout = max(0.0, self._first_at + timeout - time.monotonic())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
        return None

    async def _writer(self, stop: asyncio.Event) -> None:
        link = self.link
        while (batch := await self._next_batch(stop)) is not None:
            while True:
                try:
                    await self._write(batch)
                except (httpx.HTTPError, InfluxError) as exc:
                    self.reachable = False
                    self.counters["write_errors"] += 1
                    fault = link.down(str(exc))
                    delay = link.next_delay()
                    # A warning once per outage; each further try at debug.
                    log.log(logging.WARNING if fault else logging.DEBUG,
                            "InfluxDB write failed (%s); %d points kept, readings not "
                            "acknowledged until written; retrying", exc, self.pending)
                    if await link.pause(delay, stop):
                        self._leftover.append(batch)
                        return
                    continue
                for report in link.up():
                    if isinstance(report, Recovery):
                        self._shed_reported = False
                        log.info("InfluxDB takes writes again after %.1f s (%d failures)",
                                 report.outage_s, report.failures)
                break

    async def run(self, stop: asyncio.Event) -> None:
        """Write batches with `writers` tasks until stopped."""
        async def wake_on_stop() -> None:
            await stop.wait()
            self._wake.set()

        waker = asyncio.create_task(wake_on_stop())
        try:
            await asyncio.gather(self._check_reachable(stop),
                                 *(self._writer(stop) for _ in range(self.config.writers)))
        finally:
            waker.cancel()

    async def _check_reachable(self, stop: asyncio.Event) -> None:
        # With nothing to write, `reachable` (health, the watchdog) still follows InfluxDB;
        # while writes are due, only a write that worked says it is back.
        while not stop.is_set():
            if not self.reachable and not self.pending:
                try:
                    await self.ensure_database()
                except (httpx.HTTPError, InfluxError) as exc:
                    log.debug("InfluxDB not reachable: %s", exc)
            await self.link.pause(max(self.config.flush_interval_s, 0.5), stop)

    async def close(self) -> None:
        """Try a last flush, then close the HTTP client."""
        try:
            await self.flush()
        except (httpx.HTTPError, InfluxError) as exc:
            log.error("InfluxDB unreachable at shutdown; %d points not written (readings "
                      "among them stay with the broker): %s", self.pending, exc)
        await self._client.aclose()


def _tag_literal(value: str) -> str:
    """Return `value` as an InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def home_points(influx: InfluxWriter, home: str) -> dict[str, list[dict[str, Any]]]:
    """Return every point InfluxDB holds of `home`, by measurement, as column → value
    (times in epoch milliseconds)."""
    series = await _query_held(influx, f'SELECT * FROM /.*/ WHERE "home" = {_tag_literal(home)}')
    points: dict[str, list[dict[str, Any]]] = {}
    for one in series:
        columns = one["columns"]
        points.setdefault(one["name"], []).extend(
            {c: v for c, v in zip(columns, row, strict=True) if v is not None}
            for row in one.get("values", []))
    return points


async def drop_home_series(influx: InfluxWriter, home: str) -> int:
    """Drop every series of `home` from every measurement; return how many there were."""
    where = f'WHERE "home" = {_tag_literal(home)}'
    counted = await _query_held(influx, f"SHOW SERIES {where}")
    total = sum(len(one.get("values", [])) for one in counted)
    if total:
        await influx.query(f"DROP SERIES {where}")
    return total


async def _query_held(influx: InfluxWriter, influxql: str) -> list[dict[str, Any]]:
    # A database that was never written to holds nothing: not an error here.
    try:
        return await influx.query(influxql)
    except InfluxError as exc:
        if str(exc).startswith("database not found"):
            return []
        raise
