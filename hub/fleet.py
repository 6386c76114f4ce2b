"""The fleet's health: each home's agent and devices as the monitoring desk needs them.

`FleetWatch.observe` is handed every message ingest accepted. It keeps, per home, what the
agent's retained status says (online or offline and since when, version, outbox depth, clock)
and, per device, its last report, battery, fault and whether its agent called it silent, in
SQL (`fleet_agents`, `fleet_devices`) so that a restarted hub still knows how long a home has
been offline. `observe` only gathers, in memory, so that no message waits for SQL; `run`
writes beside the loop (in a thread, one statement per shape of change): soon after a change
of state, and every `flush_every_s` for the "last heard" times. Fleet health is a view for
people: a fault here is logged and counted, never allowed to stop ingest.

`hub.fleet_view` turns the rows into what the desk reads.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bedwatch import wire
from bedwatch.kinds import SELF_REPORTS
from hub.alerts import Clock
from hub.db import FleetAgent, FleetDevice

log = logging.getLogger(__name__)

# The device id of the agent's reports about itself: the agent, not one of its devices.
AGENT_DEVICE = "agent"
# How long each type of device may stay quiet before its agent calls it silent: the defaults
# of the edge drivers' `silent_after_s`, by registry device type.
SUPERVISION_S: dict[str, float] = {
    "bed_sensor": 10.0, "fall_mat": 10.0, "call_button": 30.0, "radar": 60.0,
    "dry_contact": 300.0, "bp_cuff": 3 * 86400.0, "zigbee": 25 * 3600.0,
}
# A device of a type not known here: EN 50134-2 wants a trigger heard at least every 24 h.
DEFAULT_SUPERVISION_S = 25 * 3600.0
MAX_DEVICES_PER_HOME = 64  # more device ids than this from one home are counted, not kept
MAX_DEPTH = 2**31 - 1  # an outbox depth as an SQL integer column holds it (PostgreSQL: 32 bit)
# A write that failed this many times in a row is dropped (counted), so that one value the
# store refuses cannot stop every later write.
MAX_WRITE_TRIES = 3
# Homes written per transaction (hub.fleet.FleetWatch._flush_parts).
WRITE_HOMES = 100
# The pause between two parts of a write, for the hub's own writes waiting for the lock.
PART_PAUSE_S = 0.005

State = Literal["online", "offline", "unknown", "healthy", "device_silent", "fault",
                "low_battery", "clock_unsynced", "outbox_backlog", "open_alert"]
STATES: tuple[State, ...] = ("online", "offline", "unknown", "healthy", "device_silent",
                             "fault", "low_battery", "clock_unsynced", "outbox_backlog",
                             "open_alert")
# What each state adds to a home's urgency; an open alert adds by its worst severity.
WEIGHTS: dict[str, int] = {"offline": 300, "device_silent": 200, "fault": 100,
                           "low_battery": 50, "clock_unsynced": 20, "outbox_backlog": 20,
                           "unknown": 5}
ALERT_WEIGHTS: dict[str, int] = {"critical": 1000, "high": 400, "low": 10, "info": 1}


@dataclass(frozen=True)
class Limits:
    """Where a reading becomes a problem the desk should see."""

    low_battery_pct: float = 20.0  # the call button driver's default warning level
    outbox_backlog: int = 500  # messages waiting in a home's outbox
    clock_skew_s: float = 300.0  # the agent's clock against the hub's
    grace_s: float = 120.0  # batching and transport on top of a device's supervision time


LIMITS = Limits()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class FleetWatch:
    """Keep the fleet's health in SQL from the messages ingest accepted."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *,
                 flush_every_s: float = 30.0, settle_s: float = 0.2,
                 limits: Limits = LIMITS) -> None:
        self.sessions = sessions
        self.clock = clock
        self.flush_every_s = flush_every_s
        self.settle_s = settle_s
        self.limits = limits
        self._agents: dict[str, dict[str, Any]] = {}
        self._devices: dict[tuple[str, str], dict[str, Any]] = {}
        self._known: dict[str, set[str]] | None = None  # device ids by home (loaded once)
        self._said: dict[object, object] = {}  # the last state heard, by home or device
        self._wake = asyncio.Event()  # a state changed: write soon
        self._failures = 0  # writes failed in a row
        self.counters: Counter[str] = Counter()

    def observe(self, home: str, message: wire.Message) -> None:
        """Note one accepted message (in memory: `run` writes it). Never raises."""
        now = self.clock.now()
        try:
            if self._note(home, message, now):
                self._wake.set()
        except Exception:
            self.counters["errors"] += 1
            log.exception("fleet health of %s not updated", home)

    # -- noting -----------------------------------------------------------------------------

    def _agent(self, home: str) -> dict[str, Any]:
        return self._agents.setdefault(home, {})

    def _device(self, home: str, device: str) -> dict[str, Any] | None:
        key = (home, device)
        touch = self._devices.get(key)
        if touch is not None:
            return touch
        if self._known is None:
            with self.sessions() as session:
                known: dict[str, set[str]] = {}
                for h, d in session.execute(select(FleetDevice.home, FleetDevice.device)):
                    known.setdefault(h, set()).add(d)
            self._known = known
        ids = self._known.setdefault(home, set())
        if device not in ids:
            if len(ids) >= MAX_DEVICES_PER_HOME:
                self.counters["devices_over_limit"] += 1
                return None
            ids.add(device)
        touch = self._devices[key] = {}
        return touch

    def _changed(self, key: object, value: object) -> bool:
        before = self._said.get(key, self)  # never equal to a value: first time is a change
        self._said[key] = value
        return before != value

    def _note(self, home: str, message: wire.Message, now: float) -> bool:
        """Gather what `message` says; return True when a state changed."""
        if isinstance(message, wire.ReadingBatch):
            self._agent(home)["last_seen"] = now
            batteries: dict[str, Any] = {}
            for reading in message.readings:
                level = reading.fields.get("battery_pct")
                if level is not None or reading.device not in batteries:
                    batteries[reading.device] = level
            for device, level in batteries.items():
                touch = self._device(home, device)
                if touch is not None:
                    touch["last_report_at"] = now
                    self._battery(touch, _number(level))
            return False
        if isinstance(message, wire.AgentStatus):
            return self._agent_status(home, message, now)
        if isinstance(message, wire.DeviceStatus):
            self._agent(home)["last_seen"] = now
            touch = self._device(home, message.device)
            if touch is None:
                return False
            touch.update(connected=message.connected, errors=dict(message.errors))
            if message.last_seen is not None:
                touch["last_seen_edge"] = message.last_seen
            self._battery(touch, message.battery_pct)
            return self._changed((home, message.device), message.connected)
        if isinstance(message, wire.Event):
            self._agent(home)["last_seen"] = now
            return message.device != AGENT_DEVICE and self._device_event(home, message, now)
        self._agent(home)["last_seen"] = now  # a command's acknowledgement
        return False

    def _battery(self, touch: dict[str, Any], level: float | None) -> None:
        if level is not None and 0.0 <= level <= 100.0:
            touch["battery_pct"] = level
            touch.pop("battery_low", None)  # the level says it now

    def _agent_status(self, home: str, status: wire.AgentStatus, now: float) -> bool:
        touch = self._agent(home)
        touch["state"] = (status.state, now)
        if status.state == "online":
            depth = None if status.outbox_depth is None else min(status.outbox_depth, MAX_DEPTH)
            touch.update(last_seen=now, version=status.version, outbox_depth=depth,
                         clock_synced=status.clock_synced, uptime_s=status.uptime_s,
                         degraded=list(status.degraded),
                         clock_skew_s=None if status.t is None else status.t - now)
            for device in status.devices:  # known before it first reports
                self._device(home, device)
        backlog = (status.outbox_depth or 0) >= self.limits.outbox_backlog
        return self._changed(home, (status.state, status.version, status.clock_synced,
                                    tuple(status.degraded), backlog, tuple(status.devices)))

    def _device_event(self, home: str, event: wire.Event, now: float) -> bool:
        touch = self._device(home, event.device)
        if touch is None:
            return False
        kind = event.kind
        if kind not in SELF_REPORTS or kind == "device_recovered":
            touch["last_report_at"] = now
        if kind == "device_silent":
            touch["silent"] = (True, now)
            expected = _number(event.data.get("expected_within_s"))
            if expected is not None and expected > 0:
                touch["supervision_s"] = expected
        elif kind == "device_recovered":
            touch["silent"] = (False, now)
            self._clear_fault(touch, "device_fault")
        elif kind in ("device_fault", "sensor_fault"):
            reason = event.data.get("reason") or event.data.get("what") or kind
            touch["fault"] = (kind, wire.clean_text(str(reason), 200), now)
            touch.get("fault_clear", set()).discard(kind)
        elif kind == "sensor_recovered":
            self._clear_fault(touch, "sensor_fault")
        elif kind == "low_battery":
            level = _number(event.data.get("battery_pct"))
            if level is None:
                touch["battery_low"] = True
            else:
                self._battery(touch, level)
        else:
            return False
        return True

    @staticmethod
    def _clear_fault(touch: dict[str, Any], kind: str) -> None:
        touch.setdefault("fault_clear", set()).add(kind)
        if touch.get("fault", (None,))[0] == kind:
            del touch["fault"]

    # -- writing ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Write what was gathered, beside the loop: soon after a change of state, else every
        `flush_every_s`; a last time on the way out."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                changed = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({changed, stopping}, timeout=self.flush_every_s,
                                   return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                self._wake.clear()
                if not stop.is_set():  # a burst of changes (an outage) is one write
                    await asyncio.sleep(self.settle_s)
                await self._flush_parts()
        finally:
            stopping.cancel()
        await self._flush_parts()

    async def _flush_parts(self) -> None:
        """Write what was gathered in transactions of `WRITE_HOMES` homes each, one after
        another, letting the loop run between them: with SQLite a transaction holds the
        database's only write lock, and a fleet's "last heard" times in one go (10,000 homes)
        held it for seconds while calls waited to be stored."""
        agents, devices = self._take()
        by_home: dict[str, list[tuple[str, str]]] = {home: [] for home in agents}
        for key in devices:
            by_home.setdefault(key[0], []).append(key)
        homes = sorted(by_home)
        for start in range(0, len(homes), WRITE_HOMES):
            part = homes[start:start + WRITE_HOMES]
            some_agents = {h: agents[h] for h in part if h in agents}
            some_devices = {k: devices[k] for h in part for k in by_home[h]}
            try:
                await asyncio.to_thread(self._write, some_agents, some_devices,
                                        self.clock.now())
                await asyncio.sleep(PART_PAUSE_S)  # a write that waited meanwhile goes first
            except Exception:
                rest = homes[start:]
                self._give_back({h: agents[h] for h in rest if h in agents},
                                {k: devices[k] for h in rest for k in by_home[h]})
                self.counters["flush_errors"] += 1
                log.exception("fleet health not written; kept for the next try")
                return

    def flush(self, now: float | None = None) -> None:
        """Write everything gathered now, on this thread; on failure keep it and raise."""
        agents, devices = self._take()
        if not agents and not devices:
            return
        try:
            self._write(agents, devices, self.clock.now() if now is None else now)
        except BaseException:
            self._give_back(agents, devices)
            self.counters["flush_errors"] += 1
            raise

    def _take(self) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]:
        agents, devices = self._agents, self._devices
        self._agents, self._devices = {}, {}
        return agents, devices

    def _give_back(self, agents: dict[str, dict[str, Any]],
                   devices: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Put back what could not be written, under what was gathered since (newer wins);
        drop it once it has failed `MAX_WRITE_TRIES` times in a row."""
        self._failures += 1
        if self._failures >= MAX_WRITE_TRIES:
            self._failures = 0
            self.counters["writes_dropped"] += len(agents) + len(devices)
            log.error("fleet health of %d agents and %d devices dropped after %d failed writes",
                      len(agents), len(devices), MAX_WRITE_TRIES)
            return
        for home, touch in agents.items():
            self._agents[home] = {**touch, **self._agents.get(home, {})}
        for key, touch in devices.items():
            newer = self._devices.get(key, {})
            merged = {**touch, **newer}
            if "fault_clear" in touch or "fault_clear" in newer:
                merged["fault_clear"] = touch.get("fault_clear", set()) | \
                    newer.get("fault_clear", set())
            self._devices[key] = merged

    def _write(self, agents: dict[str, dict[str, Any]],
               devices: dict[tuple[str, str], dict[str, Any]], now: float) -> None:
        with self.sessions() as session:
            _store(session, FleetAgent.__table__, ("home",),
                   {(home,): _agent_values(row, touch, now) for (home,), row, touch in
                    _with_rows(session, FleetAgent.__table__, ("home",),
                               {(h,): t for h, t in agents.items()})})
            _store(session, FleetDevice.__table__, ("home", "device"),
                   {key: _device_values(row, touch, now, self.limits) for key, row, touch in
                    _with_rows(session, FleetDevice.__table__, ("home", "device"), devices)})
            session.commit()
        self._failures = 0
        self.counters["flushes"] += 1


def _with_rows(session: Session, table: Any, keys: tuple[str, ...],
               touches: dict[Any, dict[str, Any]]) -> list[tuple[Any, Any, dict[str, Any]]]:
    """Return (key, stored row or None, touch) for each touch; rows read by home, 500 at once."""
    homes = sorted({key[0] for key in touches})
    stored: dict[tuple[str, ...], Any] = {}
    for start in range(0, len(homes), 500):
        for row in session.execute(select(table).where(
                table.c.home.in_(homes[start:start + 500]))):
            stored[tuple(getattr(row, k) for k in keys)] = row
    return [(key, stored.get(key), touch) for key, touch in touches.items()]


def _store(session: Session, table: Any, keys: tuple[str, ...],
           values: dict[tuple[str, ...], tuple[bool, dict[str, Any]]]) -> None:
    """Insert the new rows and update the others, one statement per shape of change."""
    inserts = [{**dict(zip(keys, key, strict=True)), **v} for key, (new, v) in values.items()
               if new]
    if inserts:
        session.execute(insert(table), inserts)
    shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
    for key, (new, changes) in values.items():
        if not new and changes:
            shapes.setdefault(frozenset(changes), []).append(
                {**{f"k_{k}": v for k, v in zip(keys, key, strict=True)},
                 **{f"v_{n}": v for n, v in changes.items()}})
    for names, rows in shapes.items():
        where = and_(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
        session.execute(update(table).where(where).values(
            {n: bindparam(f"v_{n}") for n in names}), rows)


def _agent_values(row: Any, touch: dict[str, Any], now: float) -> tuple[bool, dict[str, Any]]:
    """Return (new row, its values or the changed ones) for an agent's gathered touch."""
    state, at = touch.get("state", (None, now))
    names: tuple[str, ...] = ("version", "outbox_depth", "clock_synced", "clock_skew_s",
                              "uptime_s", "degraded")
    values: dict[str, Any] = {name: touch[name] for name in names if name in touch}
    if "last_seen" in touch:
        values["last_seen"] = max(row.last_seen or 0.0, touch["last_seen"]) if row \
            else touch["last_seen"]
    values["updated_at"] = now
    if row is None:
        return True, {"degraded": [], **values, "state": state or "unknown", "since": at}
    if state is not None and state != row.state:
        values.update(state=state, since=at)
    return False, values


def _device_values(row: Any, touch: dict[str, Any], now: float,
                   limits: Limits) -> tuple[bool, dict[str, Any]]:
    """Return (new row, its values or the changed ones) for a device's gathered touch."""
    old: dict[str, Any] = dict(row._mapping) if row is not None else {
        "silent": False, "battery_low": False, "errors": {}, "fault_kind": None,
        "last_report_at": None}
    values: dict[str, Any] = {name: touch[name] for name in (
        "connected", "last_seen_edge", "errors", "supervision_s") if name in touch}
    if "last_report_at" in touch:
        values["last_report_at"] = max(old["last_report_at"] or 0.0, touch["last_report_at"])
    if "battery_pct" in touch:
        values["battery_pct"] = touch["battery_pct"]
        values["battery_low"] = touch["battery_pct"] <= limits.low_battery_pct
    if touch.get("battery_low"):
        values["battery_low"] = True
    if "silent" in touch:
        silent, at = touch["silent"]
        if silent and not old["silent"]:
            values.update(silent=True, silent_since=at)
        elif not silent:
            values.update(silent=False, silent_since=None)
    fault_kind = old["fault_kind"]
    if fault_kind is not None and fault_kind in touch.get("fault_clear", ()):
        values.update(fault_kind=None, fault=None, fault_since=None)
        fault_kind = None
    if "fault" in touch:
        kind, text, at = touch["fault"]
        if fault_kind != kind:
            values["fault_since"] = at
        values.update(fault_kind=kind, fault=text)
    values["updated_at"] = now
    if row is None:
        return True, {"silent": False, "battery_low": False, "errors": {}, **values}
    return False, values

