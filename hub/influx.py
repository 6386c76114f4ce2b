"""The hub's one InfluxDB seam: the v1 HTTP API (`/write`, `/query`), which InfluxDB 1.x,
2.x (v1-compatibility endpoints) and 3.x all serve. Line protocol is built with
`influxdb_client.Point`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import httpx
from influxdb_client import Point, WritePrecision

from bedwatch import wire
from bedwatch.connection import Backoff, Link, Recovery
from hub.config import InfluxSection

log = logging.getLogger(__name__)


def reading_point(home: str, reading: wire.Reading) -> str:
    """Return the line-protocol line of one reading."""
    point = Point(reading.kind).tag("home", home).tag("device", reading.device)
    for name, value in reading.fields.items():
        # Every number is written as a float: a field that is 60 in one reading and 60.5 in
        # the next must not become a type conflict that InfluxDB rejects.
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        point = point.field(name, value)
    return str(point.time(round(reading.t * 1e9), WritePrecision.NS).to_line_protocol())


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


class InfluxWriter:
    """Buffer lines and write them in batches; retry until InfluxDB takes them."""

    def __init__(self, config: InfluxSection, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._buffer: deque[str] = deque()
        self._wake = asyncio.Event()
        self.counters = {"written": 0, "shed": 0, "rejected": 0, "write_errors": 0}
        self.reachable = False
        self.link = Link("InfluxDB", Backoff(min_s=0.5, max_s=30.0))

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

    def add(self, lines: list[str]) -> None:
        """Queue lines for writing; shed the oldest beyond the bound (counted and logged)."""
        self._buffer.extend(lines)
        excess = len(self._buffer) - self.config.max_buffer_points
        if excess > 0:
            for _ in range(excess):
                self._buffer.popleft()
            self.counters["shed"] += excess
            log.error("InfluxDB buffer full: shed the %d oldest points", excess)
        if len(self._buffer) >= self.config.batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> None:
        """Write everything buffered now; raise on failure, keeping the points."""
        while self._buffer:
            batch = [self._buffer[i] for i in range(min(self.config.batch_size,
                                                        len(self._buffer)))]
            response = await self._client.post(
                f"{self.config.url}/write", headers=self._headers(),
                params=self._params(db=self.config.database, precision="ns"),
                content="\n".join(batch).encode())
            if response.status_code >= 500 or response.status_code in (401, 403, 404, 429):
                self.reachable = response.status_code < 500
                raise InfluxError(f"write failed ({response.status_code}): {response.text[:300]}")
            for _ in batch:
                self._buffer.popleft()
            self.reachable = True
            if response.status_code >= 400:
                # Bad points stay bad: InfluxDB wrote the good ones; count the rest, move on.
                self.counters["rejected"] += len(batch)
                log.error("InfluxDB rejected part of a batch: %s", response.text[:300])
            else:
                self.counters["written"] += len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every interval (or when a batch is full) until stopped; retry with backoff."""
        link = self.link
        while not stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.flush_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                if not self.reachable:
                    await self.ensure_database()
                await self.flush()
            except (httpx.HTTPError, InfluxError) as exc:
                self.reachable = False
                self.counters["write_errors"] += 1
                fault = link.down(str(exc))
                delay = link.next_delay()
                # A warning once per outage; each further try at info.
                log.log(logging.WARNING if fault else logging.INFO,
                        "InfluxDB write failed (%s); %d points kept; retry in %.1f s",
                        exc, self.pending, delay)
                await link.pause(delay, stop)
            else:
                for report in link.up():
                    if isinstance(report, Recovery):
                        log.info("InfluxDB takes writes again after %.1f s (%d failures)",
                                 report.outage_s, report.failures)

    async def close(self) -> None:
        """Try a last flush, then close the HTTP client."""
        try:
            await self.flush()
        except (httpx.HTTPError, InfluxError) as exc:
            log.error("InfluxDB unreachable at shutdown; %d points not written: %s",
                      self.pending, exc)
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
