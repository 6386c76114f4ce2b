"""What the monitoring desk reads of the fleet's health, from what `hub.fleet` keeps.

Derived on the way: a device not heard for longer than its supervision time while its agent
is online is silent even if the agent has not said so (a stuck driver says nothing); every
home gets its states and an urgency to sort by; and the visits list says what needs a person
at the door today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hub.alerts import ACTIVE_STATES
from hub.db import Alert, Device, FleetAgent, FleetDevice, Home
from hub.fleet import (
    ALERT_WEIGHTS,
    DEFAULT_SUPERVISION_S,
    LIMITS,
    SUPERVISION_S,
    WEIGHTS,
    Limits,
)


@dataclass(frozen=True)
class AgentHealth:
    """A home's agent as the desk reads it; `state` is unknown until it first reports."""

    state: Literal["online", "offline", "unknown"]
    since: float | None
    last_seen: float | None
    version: str | None
    outbox_depth: int | None
    clock_synced: bool | None
    clock_skew_s: float | None
    uptime_s: float | None
    degraded: tuple[str, ...]


@dataclass(frozen=True)
class DeviceHealth:
    """One device of a home, with what is derived: silent, fault, low battery."""

    id: str
    type: str | None  # the registry's, when the device is registered
    connected: bool | None
    last_report_at: float | None
    last_seen_edge: float | None
    battery_pct: float | None
    low_battery: bool
    fault: str | None  # what the agent said, or "disconnected"
    fault_since: float | None
    silent: bool
    silent_since: float | None
    supervision_s: float
    errors: dict[str, int]
    states: tuple[str, ...]


@dataclass(frozen=True)
class HomeHealth:
    """One home: its agent, devices, open alerts, states and urgency (higher: sooner)."""

    id: str
    site: str
    address: str
    resident: str
    agent: AgentHealth
    devices: tuple[DeviceHealth, ...]
    open_alerts: int
    worst_alert: str | None
    states: tuple[str, ...]
    urgency: int


UNKNOWN_AGENT = AgentHealth("unknown", None, None, None, None, None, None, None, ())


def _agent_health(row: Any) -> AgentHealth:
    if row is None:
        return UNKNOWN_AGENT
    state: Literal["online", "offline", "unknown"] = (
        row.state if row.state in ("online", "offline") else "unknown")
    return AgentHealth(state, row.since, row.last_seen, row.version, row.outbox_depth,
                       row.clock_synced, row.clock_skew_s, row.uptime_s, tuple(row.degraded))


def _device_health(row: Any, kind: str | None, agent: AgentHealth, now: float,
                   limits: Limits) -> DeviceHealth:
    supervision = row.supervision_s or SUPERVISION_S.get(kind or "", DEFAULT_SUPERVISION_S)
    silent, silent_since = row.silent, row.silent_since
    if not silent and agent.state == "online":
        # Not heard past its supervision time while its agent is up: silent, said or not.
        heard = row.last_report_at if row.last_report_at is not None else agent.since
        if heard is not None and now - heard > supervision + limits.grace_s:
            silent, silent_since = True, heard + supervision
    fault, fault_since = row.fault, row.fault_since
    if fault is None and row.connected is False:
        fault = "disconnected"
    states = tuple(s for s, on in (("device_silent", silent), ("fault", fault is not None),
                                   ("low_battery", row.battery_low)) if on)
    return DeviceHealth(row.device, kind, row.connected, row.last_report_at, row.last_seen_edge,
                        row.battery_pct, row.battery_low, fault, fault_since, silent,
                        silent_since, supervision, dict(row.errors or {}), states)


def _home_states(agent: AgentHealth, devices: Sequence[DeviceHealth], open_alerts: int,
                 limits: Limits) -> tuple[str, ...]:
    states: list[str] = [agent.state]
    for state in ("device_silent", "fault", "low_battery"):
        if any(state in d.states for d in devices):
            states.append(state)
    if agent.state == "online":
        skew = agent.clock_skew_s
        if agent.clock_synced is False or (skew is not None and abs(skew) > limits.clock_skew_s):
            states.append("clock_unsynced")
        if (agent.outbox_depth or 0) >= limits.outbox_backlog:
            states.append("outbox_backlog")
    if open_alerts:
        states.append("open_alert")
    if states == ["online"]:
        states.append("healthy")
    return tuple(states)


def read_health(session: Session, where: ColumnElement[bool], now: float, *,
                limits: Limits = LIMITS) -> list[HomeHealth]:
    """Return the health of the active homes that `where` (on `Home`) keeps, most urgent
    first; among equals the longest-standing problem first, then by home id.

    Plain rows, not ORM objects: the desk asks for every home of the organisation at once.
    """
    chosen = select(Home.id).where(Home.active, where)
    homes = session.execute(select(Home.id, Home.site_id, Home.address, Home.resident_name)
                            .where(Home.id.in_(chosen)).order_by(Home.id)).all()
    agents = {r.home: r for r in session.execute(
        select(FleetAgent.__table__).where(FleetAgent.home.in_(chosen)))}
    devices: dict[str, list[Any]] = {}
    for row in session.execute(select(FleetDevice.__table__)
                               .where(FleetDevice.home.in_(chosen))
                               .order_by(FleetDevice.home, FleetDevice.device)):
        devices.setdefault(row.home, []).append(row)
    types = {(r.home_id, r.id): r.type for r in session.execute(
        select(Device.home_id, Device.id, Device.type).where(Device.home_id.in_(chosen)))}
    alerts: dict[str, dict[str, int]] = {}
    for alert_home, severity, count in session.execute(
            select(Alert.home, Alert.severity, func.count())
            .where(Alert.state.in_(ACTIVE_STATES), Alert.home.in_(chosen))
            .group_by(Alert.home, Alert.severity)):
        alerts.setdefault(alert_home, {})[severity] = count
    found: list[tuple[float, HomeHealth]] = []
    for home in homes:
        agent = _agent_health(agents.get(home.id))
        health = tuple(_device_health(r, types.get((home.id, r.device)), agent, now, limits)
                       for r in devices.get(home.id, []))
        by_severity = alerts.get(home.id, {})
        worst = max(by_severity, key=lambda s: ALERT_WEIGHTS.get(s, 0), default=None)
        states = _home_states(agent, health, sum(by_severity.values()), limits)
        urgency = sum(WEIGHTS.get(s, 0) for s in states) + ALERT_WEIGHTS.get(worst or "", 0)
        # When its oldest problem began: the agent's going offline, a device's silence or fault.
        began = [t for t in ([agent.since] if agent.state == "offline" else []) +
                 [d.silent_since for d in health] + [d.fault_since for d in health]
                 if t is not None]
        found.append((min(began, default=now), HomeHealth(
            home.id, home.site_id, home.address, home.resident_name, agent, health,
            sum(by_severity.values()), worst, states, urgency)))
    found.sort(key=lambda pair: (-pair[1].urgency, pair[0], pair[1].id))
    return [h for _, h in found]


Reason = Literal["agent_offline", "device_silent", "device_fault", "low_battery"]
REASONS: tuple[Reason, ...] = ("agent_offline", "device_silent", "device_fault", "low_battery")


@dataclass(frozen=True)
class Visit:
    """One reason to send someone to a home today."""

    home: HomeHealth
    device: DeviceHealth | None
    reason: Reason
    since: float | None


def visits(homes: Iterable[HomeHealth], now: float, *, offline_after_s: float) -> list[Visit]:
    """Return what needs a visit: agents offline for `offline_after_s` or more, and silent,
    faulty or low-battery devices; by reason (in `REASONS` order), then the oldest first."""
    found: list[Visit] = []
    for home in homes:
        agent = home.agent
        if agent.state == "offline" and agent.since is not None and \
                now - agent.since >= offline_after_s:
            found.append(Visit(home, None, "agent_offline", agent.since))
        for device in home.devices:
            if device.silent:
                found.append(Visit(home, device, "device_silent", device.silent_since))
            if device.fault is not None:
                found.append(Visit(home, device, "device_fault", device.fault_since))
            if device.low_battery:
                found.append(Visit(home, device, "low_battery", None))
    found.sort(key=lambda v: (REASONS.index(v.reason), v.since if v.since is not None else now,
                              v.home.id, v.device.id if v.device else ""))
    return found
