"""Readings stored by several processes: the hub's ingest workers.

With `mqtt.ingest_workers = N` (N ≥ 2) the hub process keeps the control lane (events,
statuses, command acks: one session, so each home's events stay in order), the alert engine and
the API, and starts N worker processes. Each worker is a readings lane with its own broker user
and persistent session (`<client_id>-readings`, then `-readings-2` …), a member of the shared
subscription `$share/bedwatch/bw/v1/+/readings`, and its own InfluxDB writer: it acknowledges a
batch once InfluxDB has it, as the single-process hub does.

Mosquitto 2.0 hands each message of a shared subscription to the next member in turn, also to
a member whose persistent session is offline: that member's share waits in its session until
it is back (MQTT 5 §4.8.2 allows this). A worker that dies is therefore started again with the
same index, so the same session, at once; its unacknowledged messages are delivered again.
Nothing is lost; a dead worker's share is late by the time it takes to restart.

Every half second a worker reports to the hub process over a pipe: its counters, whether it
is subscribed, and which homes and devices it has seen (and their battery levels), which the
hub uses as it would its own readings (unknown homes, the desk's fleet health). A home whose
devices and battery levels did not change is named at most every `SEEN_EVERY_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bedwatch import wire
from hub.config import HubConfig, InfluxSection, MqttSection
from hub.ingest import CONTROL, LANES, Ingest, Lane, Pending, readings_lane

log = logging.getLogger(__name__)

REPORT_S = 0.5
RESTART_S = 1.0
# Homes of a report noted between two turns of the event loop: a report naming thousands of
# homes seen for the first time (a registry check each) must not hold up the control lane.
SEEN_PER_TURN = 100
# A home whose devices and battery levels stay the same is reported this often.
SEEN_EVERY_S = 10.0
# Device id -> its last battery level in the batches seen (None: no battery field).
Devices = dict[str, float | None]


def ingest_lanes(mqtt: MqttSection) -> tuple[Lane, ...]:
    """Return the lanes the hub process runs itself: both, or only the control lane when
    workers store the readings."""
    return LANES if mqtt.ingest_workers == 1 else (CONTROL,)


def devices_seen(rows: wire.BatchRows, into: Devices | None = None) -> Devices:
    """Return each device of a batch with its last battery level (None when it gave none)."""
    seen: Devices = {} if into is None else into
    for row in rows.readings:
        level = row["fields"].get("battery_pct")
        device = row["device"]
        if level is not None and type(level) is not str:
            seen[device] = float(level)
        elif device not in seen:
            seen[device] = None
    return seen


class ReadingsSeen:
    """Tell the hub which homes and devices sent readings, at most every `every_s` per home
    unless a battery level came: the registry check and fleet health need no more."""

    def __init__(self, note: Callable[[str, wire.ReadingBatch], None],
                 every_s: float = SEEN_EVERY_S) -> None:
        self._note = note
        self.every_s = every_s
        self._last: dict[str, float] = {}

    def rows(self, home: str, rows: wire.BatchRows) -> None:
        """Note a batch this process stored."""
        now = time.monotonic()
        last = self._last.get(home)
        if last is not None and now - last < self.every_s:
            for row in rows.readings:
                if "battery_pct" in row["fields"]:
                    break
            else:
                return
        self.devices(home, devices_seen(rows), now)

    def devices(self, home: str, devices: Devices, now: float | None = None) -> None:
        """Note what a worker saw of a home."""
        self._last[home] = time.monotonic() if now is None else now
        # Only the devices and battery levels matter to the hub's notes: no model per reading.
        summary = wire.ReadingBatch.model_construct(agent=home, seq=0, readings=[
            wire.Reading.model_construct(
                device=device, kind="seen", t=0.0,
                fields={} if level is None else {"battery_pct": level})
            for device, level in devices.items()])
        self._note(home, summary)


# --- the worker process ------------------------------------------------------------------------

@dataclass
class _Seen:
    """The homes a worker stored readings of since its last report, for the next report.

    A home is reported when the worker first sees it, when its devices or their battery
    levels change, and otherwise at most every `every_s`: the hub needs no more for the
    registry check (once a minute) and fleet health (written every 30 s, a device silent after
    minutes). Reporting every home every half second made the hub process fold thousands of
    homes a second beside its control lane.
    """

    every_s: float = SEEN_EVERY_S
    homes: dict[str, Devices] = field(default_factory=dict)
    _said: dict[str, tuple[float, Devices]] = field(default_factory=dict)

    def take(self, now: float) -> dict[str, Devices]:
        homes, self.homes = self.homes, {}
        report: dict[str, Devices] = {}
        for home, devices in homes.items():
            said = self._said.get(home)
            if said is None or now - said[0] >= self.every_s or said[1] != devices:
                report[home] = devices
                self._said[home] = (now, devices)
        return report


def worker_main(mqtt: MqttSection, influx: InfluxSection, worker: int, workers: int,
                conn: Connection, verbose: bool = False) -> None:
    """Run one ingest worker until the hub process goes away or says stop."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format=f"%(asctime)s %(levelname)s %(name)s[w{worker}]: %(message)s")
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_worker(mqtt, influx, worker, workers, conn))


async def _worker(mqtt: MqttSection, influx: InfluxSection, worker: int, workers: int,
                  conn: Connection) -> None:
    from hub.influx import InfluxWriter

    writer = InfluxWriter(influx)
    seen = _Seen()

    def store(home: str, rows: wire.BatchRows, lines: list[str]) -> Pending:
        devices_seen(rows, seen.homes.setdefault(home, {}))
        return writer.add_durable(lines)

    async def no_models(home: str, channel: wire.Channel, device: str | None,
                        message: wire.Message) -> Pending | None:
        raise RuntimeError(f"an ingest worker received a {channel.value} message")

    lane = readings_lane(worker, workers)
    ingest = Ingest(mqtt, no_models, on_window_full=writer.flush_soon, store_lines=store,
                    lanes=(lane,))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The pipe says when the hub process stops or dies (end of file).
    loop.add_reader(conn.fileno(), stop.set)

    async def report() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REPORT_S)
            age = None if ingest.last_message_at is None else \
                time.monotonic() - ingest.last_message_at
            try:
                conn.send({"counters": dict(ingest.counters), "rejected": dict(ingest.rejected),
                           "connected": ingest.connected, "last_message_age_s": age,
                           "seen": seen.take(time.monotonic()),
                           "influx": dict(writer.counters),
                           "pending": writer.pending,
                           "pending_readings": writer.pending_durable})
            except (BrokenPipeError, OSError):
                stop.set()

    try:
        await asyncio.gather(ingest.run(stop), writer.run(stop), report())
    finally:
        loop.remove_reader(conn.fileno())
        await writer.close()


# --- in the hub process -------------------------------------------------------------------------

class IngestWorkers:
    """Start the workers, restart any that dies, and fold their reports into the hub's ingest
    figures (`ingest.counters`, `ingest.rejected`, the readings lane's state)."""

    def __init__(self, config: HubConfig, ingest: Ingest,
                 seen: Callable[[str, Devices], None], *, verbose: bool = False) -> None:
        self.config = config
        self.ingest = ingest
        self.seen = seen
        self.verbose = verbose
        self.count = config.mqtt.ingest_workers
        self._context = multiprocessing.get_context("spawn")
        self._last: dict[int, dict[str, Any]] = {}
        self.connected: dict[int, bool] = {}
        self.influx: dict[int, dict[str, Any]] = {}
        self.restarts = 0
        self.pids: dict[int, int] = {}

    def _start(self, worker: int) -> tuple[Any, Connection]:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=worker_main, name=f"bedwatch-ingest-{worker}", daemon=True,
            args=(self.config.mqtt, self.config.influx, worker, self.count, theirs,
                  self.verbose))
        process.start()
        theirs.close()
        assert process.pid is not None
        self.pids[worker] = process.pid
        log.info("ingest worker %d of %d started (pid %d)", worker, self.count, process.pid)
        return process, ours

    def _fold(self, worker: int, report: dict[str, Any]) -> None:
        last = self._last.get(worker, {"counters": {}, "rejected": {}})
        for key, target in (("counters", self.ingest.counters),
                            ("rejected", self.ingest.rejected)):
            before: dict[str, int] = last[key]
            for name, value in report[key].items():
                # A restarted worker counts from zero again.
                delta = value - before.get(name, 0) if value >= before.get(name, 0) else value
                if delta:
                    target[name] += delta
        self._last[worker] = report
        self.connected[worker] = report["connected"]
        self.influx[worker] = {**report["influx"], "pending": report["pending"],
                               "pending_readings": report["pending_readings"]}
        self.ingest.lane_connected["readings"] = len(self.connected) == self.count and all(
            self.connected.values())
        if report["last_message_age_s"] is not None:
            at = time.monotonic() - report["last_message_age_s"]
            if self.ingest.last_message_at is None or at > self.ingest.last_message_at:
                self.ingest.last_message_at = at

    async def _note_seen(self, seen: dict[str, Devices]) -> None:
        for n, (home, devices) in enumerate(seen.items(), 1):
            self.seen(home, devices)
            if n % SEEN_PER_TURN == 0:
                await asyncio.sleep(0)

    def influx_figures(self) -> dict[str, int]:
        """Return the workers' InfluxDB writers' counters, summed."""
        total: Counter[str] = Counter()
        for figures in self.influx.values():
            total.update(figures)
        return dict(total)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep every worker running until `stop`; then stop them."""
        self.ingest.lane_connected["readings"] = False
        await asyncio.gather(*(self._keep(worker, stop) for worker in range(1, self.count + 1)))

    async def _keep(self, worker: int, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            process, conn = self._start(worker)
            reports: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

            def readable(conn: Connection = conn,
                         reports: asyncio.Queue[dict[str, Any] | None] = reports) -> None:
                try:
                    reports.put_nowait(conn.recv())
                except (EOFError, OSError):
                    loop.remove_reader(conn.fileno())
                    reports.put_nowait(None)

            loop.add_reader(conn.fileno(), readable)
            stopper = asyncio.ensure_future(stop.wait())
            try:
                while True:
                    getter = asyncio.ensure_future(reports.get())
                    await asyncio.wait([getter, stopper], return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        break
                    report = getter.result()
                    if report is None:
                        break
                    self._fold(worker, report)
                    await self._note_seen(report["seen"])
            finally:
                stopper.cancel()
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(conn.fileno())
                conn.close()  # the worker sees end of file and stops
                await loop.run_in_executor(None, process.join, 15)
                if process.is_alive():
                    process.kill()
                    await loop.run_in_executor(None, process.join, 5)
            self.connected[worker] = False
            self.ingest.lane_connected["readings"] = False
            if stop.is_set():
                break
            self.restarts += 1
            log.error("ingest worker %d ended (exit code %s); starting it again", worker,
                      process.exitcode)
            await asyncio.sleep(RESTART_S)
