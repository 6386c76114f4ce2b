"""The hub service: ingest, InfluxDB writer, alert engine, pager and REST API in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import uvicorn
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bedwatch import wire
from bedwatch.runner import stop_on_signals
from hub.alerts import AlertEngine, Clock, SystemClock
from hub.config import ConfigError, HubConfig, load_config
from hub.db import (
    AgentState,
    DeadLetter,
    EventRecord,
    Home,
    make_engine,
    make_sessionmaker,
    views_engine,
)
from hub.desk_points import DeskPoints
from hub.fleet import FleetWatch
from hub.influx import InfluxWriter, event_point, reading_point
from hub.ingest import Ingest, Pending
from hub.ingestworkers import IngestWorkers, ReadingsSeen, ingest_lanes
from hub.lineprotocol import reading_lines
from hub.looplag import LoopLag, StallReporter
from hub.migrations import MigrationError
from hub.pager import ApprisePager, Notifier
from hub.watchdog import Watchdog, read_health
from hub.web import WebContext, create_app
from hub.web.deps import ChangeFeed, HubStatus

log = logging.getLogger(__name__)
_M = TypeVar("_M", bound=wire.Message)
# How often the registered homes are read again, and an unregistered home asked again.
REGISTERED_EVERY_S = 60.0


class _ApiServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The hub's own signal handlers stop every part in order, the API included.
        yield


class Hub:
    """Everything the hub does, wired together; `run()` serves until stopped."""

    def __init__(self, config: HubConfig, *, clock: Clock | None = None,
                 notifier: Notifier | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.engine = make_engine(config.database.url)
        self.sessions = make_sessionmaker(self.engine)
        with self.sessions() as session:  # the registry is in the database, not the config
            self._received_order = session.scalar(
                select(func.coalesce(func.max(EventRecord.received_order), 0))) or 0
        self.writer = InfluxWriter(config.influx)
        assert config.api.secret is not None
        self.alerts = AlertEngine(self.sessions, notifier or ApprisePager(),
                                  secret=config.api.secret, public_url=config.api.public_url,
                                  clock=self.clock, ack_link_ttl_s=config.api.ack_link_ttl_s,
                                  config=config, owner=config.mqtt.client_id)
        with self.sessions() as session:
            # A restart under the same name: deliveries the last run had in flight died with it.
            if released := self.alerts.ownership.release_claims(session):
                log.warning("%d page(s) in delivery when this hub stopped are due again",
                            released)
            session.commit()
        self._deliveries: set[asyncio.Task[int]] = set()
        self.watchdog = Watchdog(self.alerts)
        self.desk = DeskPoints(self.writer, self.sessions, self.clock)  # Grafana's points
        # The desk's fleet health, in SQL; beside the loop, in parts (hub.fleet).
        self.views_engine = views_engine(self.engine)
        self.fleet = FleetWatch(make_sessionmaker(self.views_engine), self.clock)
        # Readings are acknowledged once InfluxDB has them; a full window writes at once.
        self.ingest = Ingest(config.mqtt, self.handle, dead_letter=self.store_dead_letter,
                             on_window_full=self.writer.flush_soon,
                             store_lines=self.store_readings, lanes=ingest_lanes(config.mqtt))
        # Readings stored here or by ingest workers, noted for the registry and fleet health.
        self.readings_seen = ReadingsSeen(self._readings_seen)
        self.workers = IngestWorkers(config, self.ingest, self.readings_seen.devices) \
            if config.mqtt.ingest_workers > 1 else None
        self.page_wake = asyncio.Event()
        self._changed = asyncio.Event()
        self.duplicates = 0
        self._home_checked: dict[str, float] = {}  # unregistered homes, when last asked
        self._registered: set[str] = set()  # the registry's homes, read at
        self._registered_at = -math.inf  # this monotonic time
        self.started = time.monotonic()
        self.loop_lag = LoopLag(stalls=StallReporter())

    def notify_change(self) -> None:
        """Wake everyone waiting for alerts to change (the caregivers' live pages)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, within_s: float) -> None:
        """Return when alerts change, or after `within_s` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within_s)

    async def handle(self, home: str, channel: wire.Channel, device: str | None,
                     message: wire.Message) -> Pending | None:
        """Store one validated message and act on it; for a reading batch, return the ticket
        that says when InfluxDB has it (the message is acknowledged only then)."""
        if isinstance(message, wire.ReadingBatch):
            self._readings_seen(home, message)
            return self.writer.add_durable(reading_lines(home, message.readings))
        if isinstance(message, wire.Event):
            self._stored_once(self._on_event, home, message)
        elif isinstance(message, wire.AgentStatus):
            self._stored_once(self._on_agent_status, home, message)
        elif isinstance(message, wire.DeviceStatus):
            fields: dict[str, wire.FieldValue] = {"connected": message.connected}
            if message.battery_pct is not None:
                fields["battery_pct"] = message.battery_pct
            for name, count in message.errors.items():
                fields[f"errors_{name}"[:48]] = count
            # A device status from a wrong edge clock is charted at the hub's receive time.
            # Best effort, like the event markers: the state that matters is in SQL.
            t = message.t if wire.plausible_time(message.t) else self.clock.now()
            self.writer.add([reading_point(home, wire.Reading(
                device=message.device, kind="device_status", t=t, fields=fields))])
            self.desk.device_status(home, message, t)
        elif isinstance(message, wire.CommandAck):
            log.info("%s acknowledged command %s: ok=%s %s", home, message.id, message.ok,
                     message.detail)
        self.fleet.observe(home, message)  # after storing: it never delays a page
        return None

    def store_readings(self, home: str, rows: wire.BatchRows, lines: list[str]) -> Pending:
        """Queue a reading batch's lines for InfluxDB; return the ticket that says when it has
        them (the message is acknowledged only then)."""
        self.readings_seen.rows(home, rows)
        return self.writer.add_durable(lines)

    def _readings_seen(self, home: str, batch: wire.ReadingBatch) -> None:
        """Note a home's reading batch (stored here or by a worker): registry check, fleet."""
        if not self._checked_lately(home, time.monotonic()):
            with self.sessions() as session:
                self._check_registered(session, home, "readings")
                session.commit()
        self.fleet.observe(home, batch)

    def influx_figures(self) -> dict[str, int]:
        """Return the InfluxDB writers' counters: this process's and its ingest workers'."""
        figures = {**self.writer.counters, "pending": self.writer.pending,
                   "pending_readings": self.writer.pending_durable}
        if self.workers is not None:
            for name, value in self.workers.influx_figures().items():
                figures[name] = figures.get(name, 0) + value
        return figures

    def _stored_once(self, store: Callable[[str, _M], None], home: str, message: _M) -> None:
        """Store a message; when another hub sharing the database stored the same row first
        (every hub receives every event and status), run once more to see theirs."""
        try:
            store(home, message)
        except IntegrityError:
            log.info("%s from %s stored by another hub meanwhile", type(message).__name__, home)
            store(home, message)

    def _on_event(self, home: str, event: wire.Event) -> None:
        now = self.clock.now()
        with self.sessions() as session:
            if session.get(EventRecord, (home, event.id)) is not None:
                self.duplicates += 1
                log.info("duplicate event %s from %s ignored", event.id, home)
                return
            # Several hubs may share the database: the order continues from what is stored.
            self._received_order = max(self._received_order, session.scalar(
                select(func.coalesce(func.max(EventRecord.received_order), 0))) or 0) + 1
            trusted = event.trusted_time()
            record = EventRecord(id=event.id, home=home, device=event.device, kind=event.kind,
                                 severity=event.severity.value, seq=event.seq, t=event.t,
                                 data=event.data, received_at=now,
                                 received_order=self._received_order,
                                 clock_untrusted=not trusted)
            session.add(record)
            # A wrong edge clock never delays or drops a page: go by the hub's receive time.
            t = event.t if trusted else now
            data = event.data if trusted else {**event.data, "edge_t": event.t,
                                               "clock_untrusted": True}
            alert = self.alerts.on_event(session, home, event.kind, event.device, t, data)
            if alert is not None:
                record.alert_id = alert.id
            if not trusted:
                self.alerts.on_event(session, home, "edge_clock_wrong", event.device, now,
                                     {"edge_t": event.t, "event": event.id})
            session.commit()
        if alert is not None:
            # Straight to delivery, without waking the page loop: its tick (every timer of
            # every alert, the watchdog's checks) would go first. The alert's own timers start
            # in the future; the next regular tick (`tick_s`) sees them.
            self._deliver_soon()
            self.notify_change()
        self.writer.add([event_point(home, event, t)])

    async def store_dead_letter(self, topic: str, payload: bytes, error: str,
                                attempts: int) -> None:
        """Keep a message that could not be stored, and tell the desk (once per kind of fault)."""
        now = self.clock.now()
        try:  # a dead letter decoded, so its topic names the home; kept safe if not
            home: str | None = wire.parse_topic(topic)[0]
        except wire.WireError:
            home = None
        with self.sessions() as session:
            letter = DeadLetter(at=now, topic=wire.clean_text(topic, 512), payload=payload,
                                error=wire.clean_text(error, 4000), attempts=attempts, home=home)
            session.add(letter)
            session.flush()
            # One open alert collects every dead letter until a person has looked.
            self.alerts.raise_hub_alert(session, "dead_letter", now, {
                "dead_letter_id": letter.id, "from_home": home,
                "topic": letter.topic[:200], "error": letter.error[:300]})
            session.commit()
        log.error("dead letter from %s: %s", home or "?", error)
        self.page_wake.set()

    def _on_agent_status(self, home: str, status: wire.AgentStatus) -> None:
        now = self.clock.now()
        with self.sessions() as session:
            # Locked: of hubs receiving the same status, one sees the change and pages.
            row = session.get(AgentState, home, with_for_update=True)
            previous = row.state if row else None
            if row is None:
                row = AgentState(home=home, state=status.state, updated_at=now)
                session.add(row)
            row.state, row.updated_at = status.state, now
            row.t, row.version = status.t, status.version
            was_synced = row.clock_synced
            row.outbox_depth, row.clock_synced = status.outbox_depth, status.clock_synced
            if status.state == "online":
                self._check_clock(session, home, status, was_synced, now)
                self._check_registered(session, home, "agent")
            if status.state != previous:
                kind = "agent_offline" if status.state == "offline" else "agent_online"
                if previous is not None or status.state == "offline":
                    self.alerts.on_event(session, home, kind, "agent", now, {})
                    self.page_wake.set()
            session.commit()
        self.desk.agent_status(home, status, now)

    def _check_clock(self, session: Session, home: str, status: wire.AgentStatus,
                     was_synced: bool | None, now: float) -> None:
        wrong = status.clock_synced is False or (
            status.t is not None and not wire.plausible_time(status.t))
        if wrong:
            self.alerts.on_event(session, home, "edge_clock_wrong", "agent", now,
                                 {"clock_synced": status.clock_synced, "edge_t": status.t})
        elif was_synced is False:
            self.alerts.on_event(session, home, "edge_clock_ok", "agent", now, {})

    def _checked_lately(self, home: str, now: float) -> bool:
        """Return True when `home` needs no registry check now (no database asked)."""
        if now - self._registered_at >= REGISTERED_EVERY_S:
            return False
        checked = self._home_checked.get(home)
        return home in self._registered or (
            checked is not None and now - checked < REGISTERED_EVERY_S)

    def _check_registered(self, session: Session, home: str, source: str) -> None:
        """Raise `unknown_home` for a home nobody registered. The registered homes are read in
        one query at most once a minute; a home not among them is asked of the database once a
        minute, so a stream of readings costs no query per message, nor per home."""
        now = time.monotonic()
        if now - self._registered_at >= REGISTERED_EVERY_S:
            self._registered = set(session.scalars(select(Home.id)))
            self._registered_at = now
        if self._checked_lately(home, now):
            return
        self._home_checked[home] = now
        if self.alerts.note_unknown_home(session, home, source) is not None:
            self.page_wake.set()

    async def _page_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(self.page_wake.wait(), self.config.tick_s)
            except TimeoutError:
                pass
            self.page_wake.clear()
            try:
                self.alerts.tick()
                self._deliver_soon()
                # After the tick: a tick that raises sends no heartbeat, so outside sees it.
                await self.watchdog.run_once(read_health(self))
                self.notify_change()
            except Exception:
                log.exception("paging failed; retrying")
        if self._deliveries:  # let deliveries under way finish and record their outcome
            await asyncio.wait(self._deliveries, timeout=self.config.pager.delivery_timeout_s)

    def _deliver_soon(self) -> None:
        """Deliver the due pages beside the loop: a channel that hangs delays no timer and no
        other page (a page in delivery is claimed, so no run sends it twice)."""
        task = asyncio.create_task(self._deliver_due())
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver_due(self) -> int:
        try:
            sent = await self.alerts.process_due_pages()
        except Exception:
            log.exception("delivering pages failed; retrying")
            return 0
        if sent:
            self.notify_change()
        return sent

    async def run(self, stop: asyncio.Event, *, serve_api: bool = True) -> None:
        """Serve until `stop` is set; flush the writer on the way out."""
        tasks = [
            asyncio.create_task(self.ingest.run(stop), name="ingest"),
            asyncio.create_task(self.writer.run(stop), name="influx-writer"),
            asyncio.create_task(self._page_loop(stop), name="pager"),
            asyncio.create_task(self.desk.run(stop), name="desk-points"),
            asyncio.create_task(self.fleet.run(stop), name="fleet-health"),
            asyncio.create_task(self.loop_lag.run(stop), name="loop-lag"),
        ]
        if self.workers is not None:
            tasks.append(asyncio.create_task(self.workers.run(stop), name="ingest-workers"))
        server: uvicorn.Server | None = None
        if serve_api:
            server = _ApiServer(uvicorn.Config(
                create_app(web_context(self)), host=self.config.api.host,
                port=self.config.api.port, log_level="warning", lifespan="off",
                # HTTPS with the organisation's certificate when configured (docs/security.md).
                ssl_certfile=self.config.api.tls_cert_file,
                ssl_keyfile=self.config.api.tls_key_file))
            tasks.append(asyncio.create_task(server.serve(), name="api"))
        log.info("hub running: MQTT %s:%d, InfluxDB %s, API %s", self.config.mqtt.host,
                 self.config.mqtt.port, self.config.influx.url, self.config.api.public_url)
        try:
            await stop.wait()
        finally:
            if server is not None:
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.writer.close()
            self.engine.dispose()
            self.views_engine.dispose()


def web_context(hub: Hub) -> WebContext:
    """Return what the web app is given of a hub: its store, clock, engine, figures, changes."""
    def status() -> HubStatus:
        return HubStatus(
            mqtt_connected=hub.ingest.connected, influx_reachable=hub.writer.reachable,
            uptime_s=time.monotonic() - hub.started, ingest=dict(hub.ingest.counters),
            rejected=dict(hub.ingest.rejected), duplicates=hub.duplicates,
            influx=hub.influx_figures(), loop_lag_ms=hub.loop_lag.figures())

    assert hub.config.api.secret is not None
    return WebContext(sessions=hub.sessions, clock=hub.clock, engine=hub.alerts,
                      secret=hub.config.api.secret, status=status,
                      changes=ChangeFeed(notify=hub.notify_change, wait=hub.wait_change))


async def run_hub(config: HubConfig, *, stop: asyncio.Event | None = None) -> Hub:
    """Run a hub until `stop` is set (or forever); return it for inspection."""
    hub = Hub(config)
    await hub.run(stop or asyncio.Event())
    return hub


def main(config_path: Path) -> int:
    """Run the hub from a config file until SIGINT or SIGTERM; return the exit code."""
    try:
        config = load_config(config_path)
        config.mqtt.read_password()  # a missing password file is named before anything starts
    except ConfigError as exc:
        log.error("%s", exc)
        return 2

    async def _main() -> None:
        await run_hub(config, stop=stop_on_signals())

    try:
        asyncio.run(_main())
    except MigrationError as exc:
        # A database that this version cannot migrate (newer, or damaged): say so and stop.
        log.error("%s", exc)
        return 2
    return 0
