"""The edge agent: drivers → (detectors) → durable outbox → MQTT, with device supervision.

Two clocks: the wall clock stamps what happened (it may be wrong on a Pi without RTC, which
flags an event and never drops it), the monotonic clock supervises device cadence (a wall
clock stepped back must not hide a dead device).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bedwatch import wire
from bedwatch.kinds import SELF_REPORTS
from bedwatch.runner import stop_on_signals
from edge import __version__
from edge.config import AgentConfig, ConfigError, load_config
from edge.detectors.wiring import build as build_detectors
from edge.drivers import DRIVERS
from edge.items import (
    DetectorInput,
    DetectorOutput,
    DeviceEvent,
    DeviceHealth,
    DriverItem,
    Observation,
)
from edge.outbox import Outbox, Priority
from edge.publisher import Publisher
from edge.supervisor import Restarter

log = logging.getLogger(__name__)

Detector = Callable[[DetectorInput], list[DetectorOutput]]
# The device id the agent's reports about itself carry.
AGENT_DEVICE = "agent"
# Readings dropped for their time within this window show in the status as degraded.
BAD_CLOCK_REPORT_S = 600.0


def clock_synchronised() -> bool | None:
    """Return whether systemd-timesyncd says the clock is synchronised (None: unknown)."""
    marker = Path("/run/systemd/timesync/synchronized")
    if marker.parent.exists():
        return marker.exists()
    return None


def _wire_time(t: float) -> float | None:
    """Return `t` if the wire can carry it (finite, 0 to 2100), else None."""
    if isinstance(t, (int, float)) and math.isfinite(t) and 0.0 <= t <= wire.MAX_PLAUSIBLE_T:
        return float(t)
    return None


class Agent:
    """One home's agent. Clocks are injected so supervision is testable without sleeping."""

    def __init__(self, config: AgentConfig, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 clock_synced: Callable[[], bool | None] = clock_synchronised,
                 drivers: dict[str, tuple[type[Any], type[Any]]] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.monotonic = monotonic
        self.clock_synced = clock_synced
        self.drivers = drivers or DRIVERS
        self.outbox = Outbox(config.outbox.path,
                             max_reading_messages=config.outbox.max_reading_messages,
                             max_memory_readings=config.outbox.max_memory_readings,
                             resend_window_s=config.outbox.readings_resend_window_s,
                             max_resend_messages=config.outbox.readings_resend_max_messages,
                             max_resend_bytes=config.outbox.readings_resend_max_bytes,
                             wall_clock=clock)
        self.publisher = Publisher(config.home, config.mqtt, self.outbox,
                                   online_status=self._status_payload,
                                   status_interval_s=config.status_interval_s,
                                   receipt_timeout_s=config.outbox.receipt_timeout_s,
                                   receipt_timeout_max_s=config.outbox.receipt_timeout_max_s)
        self.detectors: list[Detector] = build_detectors(config.detectors, config.devices)
        self.started = monotonic()
        self._pending: list[wire.Reading] = []
        self._last_heard: dict[str, float] = {}  # monotonic
        self._last_heard_wall: dict[str, float] = {}
        self._silent: set[str] = set()
        self._silent_after = {d.id: float(getattr(d, "silent_after_s", 60.0))
                              for d in config.devices}
        self._bad_clock_by_device: dict[str, int] = {}
        self._last_bad_clock: float | None = None  # monotonic
        self._disk_reported = False
        self.restarters: dict[str, Restarter] = {}
        self.counters = {"events": 0, "readings": 0, "invalid_items": 0, "driver_crashes": 0,
                         "events_clock_untrusted": 0, "readings_bad_clock": 0,
                         "handle_errors": 0, "detector_errors": 0, "tick_errors": 0}

    # -- what the agent says about itself ---------------------------------------------------

    def clock_trusted(self) -> bool:
        """Return True when the wall clock can stamp what happens now."""
        return self.clock_synced() is not False and wire.plausible_time(self.clock())

    def degraded(self) -> list[str]:
        """Return what the agent cannot do now (empty when healthy)."""
        out = []
        if self.outbox.error is not None:
            out.append("outbox_disk")
        if not self.clock_trusted():
            out.append("clock")
        if self._last_bad_clock is not None and \
                self.monotonic() - self._last_bad_clock < BAD_CLOCK_REPORT_S:
            out.append("readings_bad_clock")
        if any(not r.running for name, r in self.restarters.items()
               if name.startswith("driver:")):
            out.append("drivers")
        return out

    def _status_payload(self) -> bytes:
        return wire.encode(wire.AgentStatus(
            agent=self.config.home, state="online", t=_wire_time(self.clock()) or 0.0,
            version=__version__, uptime_s=round(max(0.0, self.monotonic() - self.started), 1),
            outbox_depth=self.outbox.depth(), clock_synced=self.clock_synced(),
            devices=[d.id for d in self.config.devices], degraded=self.degraded()))

    def check_outbox(self) -> None:
        """Report a failing outbox disk once per outage, and its end."""
        error = self.outbox.error
        if error is not None and not self._disk_reported:
            self._disk_reported = True
            self.emit_event(DeviceEvent(AGENT_DEVICE, "agent_degraded", self.clock(),
                                        {"what": "outbox_disk", "error": error[:500],
                                         "path": str(self.outbox.path)},
                                        severity=wire.Severity.CRITICAL.value))
            self.publisher.request_status()
        elif error is None and self._disk_reported and not self.outbox.memory_rows():
            self._disk_reported = False
            self.emit_event(DeviceEvent(AGENT_DEVICE, "agent_recovered", self.clock(),
                                        {"what": "outbox_disk"},
                                        severity=wire.Severity.INFO.value))
            self.publisher.request_status()

    # -- what goes into the outbox -------------------------------------------------------

    def emit_event(self, event: DeviceEvent) -> None:
        """Commit an event to the outbox and wake the publisher; never drop it for its time."""
        severity = event.severity or wire.DEFAULT_SEVERITY.get(event.kind, wire.Severity.LOW)
        event_id = wire.new_event_id()
        priority = Priority.LIFE_SAFETY if wire.is_life_safety(event.kind) else Priority.EVENT
        data = dict(event.data) if isinstance(event.data, dict) else {"data": repr(event.data)}
        t = _wire_time(event.t)
        untrusted = self.clock_synced() is False or t is None or not wire.plausible_time(t)
        if t is None:  # not even a number the wire carries: keep it as evidence
            data["edge_t_raw"] = repr(event.t)[:64]
            t = _wire_time(self.clock()) or 0.0

        def build(evidence: dict[str, Any]) -> Callable[[int], bytes]:
            def payload(seq: int) -> bytes:
                return wire.encode(wire.Event(
                    id=event_id, seq=seq, t=t, clock_untrusted=untrusted, device=event.device,
                    kind=event.kind, severity=wire.Severity(severity), data=evidence))
            return payload

        topic = wire.events_topic(self.config.home)
        try:
            try:
                self.outbox.put(topic, build(data), priority, event_id=event_id)
            except ValueError as exc:
                # Evidence that breaks the contract must not cost the event itself.
                self.outbox.put(topic, build({"invalid_data": str(exc)[:500]}), priority,
                                event_id=event_id)
                self.counters["invalid_items"] += 1
        except ValueError as exc:  # pydantic or wire validation: a driver bug, not lost silently
            self.counters["invalid_items"] += 1
            log.error("dropped invalid event from %s: %s", event.device, exc)
            return
        self.counters["events"] += 1
        if untrusted:
            self.counters["events_clock_untrusted"] += 1
        self.publisher.wake.set()
        if priority is Priority.LIFE_SAFETY:
            log.warning("%s from %s committed to the outbox%s", event.kind, event.device,
                        " (clock untrusted)" if untrusted else "")
        if event.device != AGENT_DEVICE:
            self.check_outbox()

    def _device_status(self, health: DeviceHealth) -> None:
        errors = dict(health.errors)
        bad_clock = self._bad_clock_by_device.get(health.device)
        if bad_clock:
            errors["readings_bad_clock"] = bad_clock
        status = wire.DeviceStatus(device=health.device,
                                   t=_wire_time(health.t) or _wire_time(self.clock()) or 0.0,
                                   connected=health.connected, battery_pct=health.battery_pct,
                                   last_seen=_wire_time(self._last_heard_wall.get(health.device,
                                                                                  -1.0)),
                                   errors=errors)
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
            try:
                self._device_status(item)
            except ValueError as exc:
                self.counters["invalid_items"] += 1
                log.error("dropped invalid status of %s: %s", item.device, exc)
            return
        if not (isinstance(item, DeviceEvent) and item.kind in SELF_REPORTS):
            self._heard(item.device)
        if isinstance(item, DeviceEvent):
            self.emit_event(item)
        elif isinstance(item, Observation):
            self._reading(item)
        for detector in self.detectors:
            try:
                found = detector(item)
            except Exception:  # one detector's bug must not stop the others or the driver
                self.counters["detector_errors"] += 1
                log.exception("a detector failed on an item from %s", item.device)
                continue
            for out in found:
                self.handle(out)

    def _reading(self, item: Observation) -> None:
        t = _wire_time(item.t)
        if t is None or not wire.plausible_time(t):
            # Bulk data in the wrong decade is worse than none: shed, counted, reported.
            self.counters["readings_bad_clock"] += 1
            self._last_bad_clock = self.monotonic()
            self._bad_clock_by_device[item.device] = \
                self._bad_clock_by_device.get(item.device, 0) + 1
            return
        try:
            self._pending.append(wire.Reading(device=item.device, kind=item.kind, t=t,
                                              fields=item.fields))
            self.counters["readings"] += 1
        except ValueError as exc:
            self.counters["invalid_items"] += 1
            log.error("dropped invalid reading from %s: %s", item.device, exc)

    def _heard(self, device: str) -> None:
        self._last_heard[device] = self.monotonic()
        self._last_heard_wall[device] = self.clock()
        if device in self._silent:
            self._silent.discard(device)
            self.emit_event(DeviceEvent(device, "device_recovered", self.clock(),
                                        {"after": "silence"}))

    def supervise(self) -> None:
        """Raise device_silent for every device that missed its expected cadence."""
        now = self.monotonic()
        for device, limit in self._silent_after.items():
            last = self._last_heard.setdefault(device, now)
            if device not in self._silent and now - last > limit:
                self._silent.add(device)
                data: dict[str, Any] = {"silent_for_s": round(now - last, 1),
                                        "expected_within_s": limit}
                if device in self._last_heard_wall:
                    data["last_heard"] = self._last_heard_wall[device]
                self.emit_event(DeviceEvent(device, "device_silent", self.clock(), data))

    def tick(self) -> None:
        """Do the once-a-second work: device supervision and the outbox disk's health."""
        self.supervise()
        self.outbox.retry()
        self.check_outbox()

    # -- tasks ------------------------------------------------------------------------------

    def _driver(self, device_config: Any) -> Any:
        """Build a device's driver with what it needs to know of this home."""
        _, driver_class = self.drivers[device_config.type]
        if device_config.type == "bp_cuff" and device_config.state_dir is None:
            # Keep the cuff's delivered readings beside the outbox, so a restart repeats none.
            state_dir = self.outbox.path.resolve().parent / "bp_cuff"
            state_dir.mkdir(exist_ok=True)
            device_config = device_config.model_copy(update={"state_dir": state_dir})
        if device_config.type == "zigbee":
            # The persistent session's client id names the home.
            return driver_class(device_config, home=self.config.home)
        return driver_class(device_config)

    async def _drive(self, device_config: Any, restarter: Restarter) -> None:
        async with self._driver(device_config) as driver:
            async for item in driver:
                restarter.healthy()
                try:
                    self.handle(item)
                except Exception:  # keep the port open: bytes sent while it is closed are lost
                    self.counters["handle_errors"] += 1
                    log.exception("handling an item from %s failed", device_config.id)

    def _driver_exited(self, device: str, error: BaseException | None) -> None:
        self.counters["driver_crashes"] += 1
        reason = "driver ended" if error is None else f"driver crashed: {error!r}"
        self.emit_event(DeviceEvent(device, "device_fault", self.clock(),
                                    {"reason": reason[:500]}))

    def _restarter(self, name: str, on_exit: Callable[[BaseException | None], None] | None
                   ) -> Restarter:
        restarter = Restarter(name, min_delay_s=self.config.restart_min_s,
                              max_delay_s=self.config.restart_max_s, on_exit=on_exit)
        self.restarters[name] = restarter
        return restarter

    async def _supervised_driver(self, device: Any, stop: asyncio.Event) -> None:
        def exited(error: BaseException | None) -> None:
            self._driver_exited(device.id, error)

        restarter = self._restarter(f"driver:{device.id}", exited)

        async def body() -> None:
            await self._drive(device, restarter)

        await restarter.run(body, stop)

    async def _every(self, interval: float, action: Callable[[], None],
                     stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
            try:
                action()
            except Exception:  # a failed tick is logged; the next one comes anyway
                self.counters["tick_errors"] += 1
                log.exception("periodic %s failed", getattr(action, "__name__", action))

    def start_tasks(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """Start the publisher, every driver and the periodic work, each supervised."""
        publisher = self._restarter("publisher", None)

        async def publish() -> None:
            await self.publisher.run(stop)

        tasks = [asyncio.create_task(publisher.run(publish, stop), name="publisher")]
        for device in self.config.devices:
            tasks.append(asyncio.create_task(self._supervised_driver(device, stop),
                                             name=f"driver:{device.id}"))
        tasks.append(asyncio.create_task(
            self._every(self.config.batch_interval_s, self.flush_readings, stop),
            name="readings"))
        tasks.append(asyncio.create_task(self._every(1.0, self.tick, stop), name="tick"))
        return tasks

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        log.info("agent for %s with %d device(s); outbox %s holds %d", self.config.home,
                 len(self.config.devices), self.outbox.path, self.outbox.depth())
        tasks = self.start_tasks(stop)
        publisher, others = tasks[0], tasks[1:]
        try:
            await stop.wait()
        finally:
            stop.set()
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            try:
                self.flush_readings()
            except Exception:
                log.exception("last flush of readings failed")
            # The publisher says offline itself; a broker that does not answer is not waited on.
            try:
                await asyncio.wait_for(publisher, 5.0)
            except (TimeoutError, asyncio.CancelledError):
                publisher.cancel()
            except Exception:
                log.exception("publisher failed while stopping")
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

    async def _main() -> int:
        try:
            agent = Agent(config)
        except ConfigError as exc:  # e.g. a state folder that is missing or read-only
            log.error("%s: outbox.path: %s", config_path, exc)
            return 2
        await agent.run(stop_on_signals())
        return 0

    return asyncio.run(_main())
