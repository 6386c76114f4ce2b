"""The edge agent: drivers → (detectors) → durable outbox → MQTT, with device supervision."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bedwatch import wire
from edge import __version__
from edge.config import AgentConfig, ConfigError, load_config
from edge.detectors.home import build as build_detectors
from edge.drivers import DRIVERS
from edge.drivers.base import DeviceEvent, DeviceHealth, DriverItem, Reading, SampleBlock
from edge.outbox import Outbox, Priority
from edge.publisher import Publisher

log = logging.getLogger(__name__)

# Events a driver makes about itself; they do not prove the device is alive.
_SELF_REPORTS = frozenset({"device_fault", "device_silent", "device_recovered"})
Detector = Callable[[SampleBlock | Reading | DeviceEvent], list[Reading | DeviceEvent]]


def clock_synchronised() -> bool | None:
    """Return whether systemd-timesyncd says the clock is synchronised (None: unknown)."""
    marker = Path("/run/systemd/timesync/synchronized")
    if marker.parent.exists():
        return marker.exists()
    return None


class Agent:
    """One home's agent. Time is injected so supervision is testable without sleeping."""

    def __init__(self, config: AgentConfig, *, clock: Callable[[], float] = time.time,
                 drivers: dict[str, tuple[type[Any], type[Any]]] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.drivers = drivers or DRIVERS
        self.outbox = Outbox(config.outbox.path,
                             max_reading_messages=config.outbox.max_reading_messages)
        self.publisher = Publisher(config.home, config.mqtt, self.outbox,
                                   online_status=self._status_payload,
                                   status_interval_s=config.status_interval_s)
        self.detectors: list[Detector] = build_detectors(config.detectors, config.devices)
        self.started = time.monotonic()
        self._pending: list[wire.Reading] = []
        self._last_heard: dict[str, float] = {}
        self._silent: set[str] = set()
        self._silent_after = {d.id: float(getattr(d, "silent_after_s", 60.0))
                              for d in config.devices}
        self.counters = {"events": 0, "readings": 0, "invalid_items": 0, "driver_crashes": 0}

    # -- what goes into the outbox -------------------------------------------------------

    def _status_payload(self) -> bytes:
        return wire.encode(wire.AgentStatus(
            agent=self.config.home, state="online", t=self.clock(), version=__version__,
            uptime_s=round(time.monotonic() - self.started, 1), outbox_depth=self.outbox.depth(),
            clock_synced=clock_synchronised(), devices=[d.id for d in self.config.devices]))

    def emit_event(self, event: DeviceEvent) -> None:
        """Commit an event to the outbox and wake the publisher."""
        severity = event.severity or wire.DEFAULT_SEVERITY.get(event.kind, wire.Severity.LOW)
        event_id = wire.new_event_id()
        priority = Priority.LIFE_SAFETY if wire.is_life_safety(event.kind) else Priority.EVENT

        def payload(seq: int) -> bytes:
            return wire.encode(wire.Event(id=event_id, seq=seq, t=event.t, device=event.device,
                                          kind=event.kind, severity=wire.Severity(severity),
                                          data=event.data))

        try:
            self.outbox.put(wire.events_topic(self.config.home), payload, priority)
        except ValueError as exc:  # pydantic or wire validation: a driver bug, not lost silently
            self.counters["invalid_items"] += 1
            log.error("dropped invalid event from %s: %s", event.device, exc)
            return
        self.counters["events"] += 1
        self.publisher.wake.set()
        if priority is Priority.LIFE_SAFETY:
            log.warning("%s from %s committed to the outbox", event.kind, event.device)

    def _device_status(self, health: DeviceHealth) -> None:
        status = wire.DeviceStatus(device=health.device, t=health.t, connected=health.connected,
                                   battery_pct=health.battery_pct,
                                   last_seen=self._last_heard.get(health.device),
                                   errors=health.errors)
        self.outbox.put(wire.device_status_topic(self.config.home, health.device),
                        wire.encode(status), Priority.STATUS, retain=True,
                        replace_key=f"device/{health.device}")
        self.publisher.wake.set()

    def flush_readings(self) -> None:
        """Put the readings gathered since the last flush into the outbox as batches."""
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), wire.MAX_READINGS_PER_BATCH):
            chunk = pending[start:start + wire.MAX_READINGS_PER_BATCH]

            def payload(seq: int, chunk: list[wire.Reading] = chunk) -> bytes:
                return wire.encode(wire.ReadingBatch(agent=self.config.home, seq=seq,
                                                     readings=chunk))

            self.outbox.put(wire.readings_topic(self.config.home), payload, Priority.READINGS)
        if pending:
            self.publisher.wake.set()

    # -- items from drivers -----------------------------------------------------------------

    def handle(self, item: DriverItem) -> None:
        """Route one driver item; run detectors on it."""
        if isinstance(item, DeviceHealth):
            self._device_status(item)
            return
        if not (isinstance(item, DeviceEvent) and item.kind in _SELF_REPORTS):
            self._heard(item.device)
        if isinstance(item, DeviceEvent):
            self.emit_event(item)
        elif isinstance(item, Reading):
            try:
                self._pending.append(wire.Reading(device=item.device, kind=item.kind, t=item.t,
                                                  fields=item.fields))
                self.counters["readings"] += 1
            except ValueError as exc:
                self.counters["invalid_items"] += 1
                log.error("dropped invalid reading from %s: %s", item.device, exc)
        for detector in self.detectors:
            for out in detector(item):
                self.handle(out)

    def _heard(self, device: str) -> None:
        now = self.clock()
        self._last_heard[device] = now
        if device in self._silent:
            self._silent.discard(device)
            self.emit_event(DeviceEvent(device, "device_recovered", now, {"after": "silence"}))

    def supervise(self) -> None:
        """Raise device_silent for every device that missed its expected cadence."""
        now = self.clock()
        for device, limit in self._silent_after.items():
            last = self._last_heard.setdefault(device, now)
            if device not in self._silent and now - last > limit:
                self._silent.add(device)
                self.emit_event(DeviceEvent(device, "device_silent", now,
                                            {"last_heard": last, "expected_within_s": limit}))

    # -- tasks ------------------------------------------------------------------------------

    async def _run_driver(self, device_config: Any, stop: asyncio.Event) -> None:
        _, driver_class = self.drivers[device_config.type]
        delay = 1.0
        while not stop.is_set():
            try:
                async with driver_class(device_config) as driver:
                    async for item in driver:
                        self.handle(item)
                        delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a driver bug must not take the agent down
                self.counters["driver_crashes"] += 1
                log.exception("driver %s crashed", device_config.id)
                self.emit_event(DeviceEvent(device_config.id, "device_fault", self.clock(),
                                            {"reason": f"driver crashed: {exc!r}"}))
            try:
                await asyncio.wait_for(stop.wait(), delay * random.uniform(0.8, 1.2))
            except TimeoutError:
                pass
            delay = min(delay * 2, 60.0)

    async def _every(self, interval: float, action: Callable[[], None],
                     stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
            action()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        log.info("agent for %s with %d device(s); outbox %s holds %d", self.config.home,
                 len(self.config.devices), self.outbox.path, self.outbox.depth())
        publisher = asyncio.create_task(self.publisher.run(stop), name="publisher")
        tasks = [
            asyncio.create_task(self._run_driver(d, stop), name=f"driver:{d.id}")
            for d in self.config.devices
        ]
        tasks.append(asyncio.create_task(
            self._every(self.config.batch_interval_s, self.flush_readings, stop)))
        tasks.append(asyncio.create_task(self._every(1.0, self.supervise, stop)))
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.flush_readings()
            try:
                await asyncio.wait_for(publisher, 5.0)
            except (TimeoutError, asyncio.CancelledError):
                publisher.cancel()
            self.outbox.close()


async def run_agent(config: AgentConfig, *, stop: asyncio.Event | None = None) -> Agent:
    """Run an agent until `stop` is set (or forever); return it for inspection."""
    agent = Agent(config)
    await agent.run(stop or asyncio.Event())
    return agent


def main(config_path: Path) -> int:
    """Run the agent from a config file until SIGINT or SIGTERM; return the exit code."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_agent(config, stop=stop)

    asyncio.run(_main())
    return 0
