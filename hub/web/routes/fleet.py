"""The fleet's health for the monitoring desk: every home's agent and devices, most urgent
first, and the list of what needs a visit today.

Staff and integrations read it; a caregiver or a station's token sees the homes of its
stations only (another station's homes are simply absent). Each visit says why in Chinese
and English, from the `web` catalogue.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, true

from bedwatch.i18n import N_, pair
from hub.db import Home
from hub.fleet import STATES, State
from hub.fleet_view import REASONS, HomeHealth, Reason, Visit, read_health, visits
from hub.web.auth import Principal, require
from hub.web.deps import MAX_ID, ClockDep, ContextDep, WebContext
from hub.web.scope import home_filter, visible_homes

router = APIRouter(prefix="/fleet", tags=["fleet"])

# The organisation's fleet health is read at most this often (seconds); requests meanwhile
# share the read. Changes of state reach SQL within a fraction of a second (hub.fleet), the
# "last heard" times every 30 s.
FLEET_READ_S = 5.0

Reader = Annotated[Principal, require("admin", "desk", "caregiver", "integration")]
SiteId = Annotated[str, Field(min_length=1, max_length=64)]
Sites = Annotated[list[SiteId], Query(max_length=50, description="Only homes of these stations.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
Time = Annotated[float, Field(ge=0, description="UTC seconds since the epoch.")]
DeviceState = Literal["device_silent", "fault", "low_battery"]

# What the visit is for, as the person who goes reads it.
REASON_TEXTS: dict[str, str] = {
    "agent_offline": N_("Home unit offline: check its power and network"),
    "device_silent": N_("Device silent: check that it is plugged in and powered"),
    "device_fault": N_("Device fault: check the device and its cable"),
    "low_battery": N_("Low battery: bring a new battery"),
}


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class AgentOut(_Out):
    state: Literal["online", "offline", "unknown"] = Field(
        description="What the agent's retained status last said; unknown: never heard.")
    since: Time | None = Field(description="When this state began (the hub's clock).")
    last_seen: Time | None = Field(description="When the hub last heard from the agent.")
    version: str | None = Field(max_length=64, description="The agent's software version.")
    outbox_depth: int | None = Field(ge=0, description="Messages waiting in its outbox.")
    clock_synced: bool | None = Field(description="Whether the agent's clock is synchronised.")
    clock_skew_s: float | None = Field(
        description="The agent's clock minus the hub's when its status arrived.")
    uptime_s: float | None = Field(ge=0, description="Seconds since the agent started.")
    degraded: list[str] = Field(max_length=32, description="What the agent cannot do now.")


class DeviceOut(_Out):
    id: str = Field(max_length=64)
    type: str | None = Field(max_length=32, description="The registry's device type.")
    connected: bool | None = Field(description="What the device's last status said.")
    last_report_at: Time | None = Field(
        description="When the hub last heard the device speak (a reading or an event).")
    last_seen_edge: Time | None = Field(
        description="When the agent last heard it, by the agent's clock (its last status).")
    battery_pct: float | None = Field(ge=0, le=100)
    low_battery: bool
    fault: str | None = Field(max_length=200, description="What is wrong, as the agent said.")
    fault_since: Time | None
    silent: bool = Field(description="Not heard within its supervision time.")
    silent_since: Time | None
    supervision_s: float = Field(gt=0, description="How long it may stay quiet.")
    errors: dict[str, int] = Field(max_length=64, description="Error counters by cause.")
    states: list[DeviceState] = Field(max_length=3)


class HomeOut(_Out):
    id: str = Field(max_length=64)
    site: str = Field(max_length=64)
    address: str = Field(max_length=400)
    resident: str = Field(max_length=200)
    agent: AgentOut
    devices: list[DeviceOut] = Field(max_length=64)
    open_alerts: int = Field(ge=0, description="Alerts not yet resolved.")
    worst_alert: str | None = Field(max_length=16, description="Severity of the worst of them.")
    states: list[State] = Field(max_length=len(STATES))
    urgency: int = Field(ge=0, description="Higher: look sooner. The list is sorted by it.")


class FleetHealth(BaseModel):
    now: Time
    total: int = Field(ge=0, description="Homes that match, on every page.")
    counts: dict[State, int] = Field(description="Homes in each state, before `state` "
                                                 "filters (the stations' filter applies).")
    items: list[HomeOut] = Field(max_length=500)


class VisitOut(BaseModel):
    home: str = Field(max_length=64)
    site: str = Field(max_length=64)
    address: str = Field(max_length=400)
    resident: str = Field(max_length=200)
    device: str | None = Field(max_length=64, description="None: the home unit itself.")
    device_type: str | None = Field(max_length=32)
    reason: Reason
    text_zh: str = Field(max_length=200, description="Why, in Chinese.")
    text_en: str = Field(max_length=200, description="Why, in English.")
    detail: str = Field(max_length=300, description="The fault as the agent said it, or "
                                                    "the battery level.")
    since: Time | None = Field(description="When the reason began, where known.")


class Visits(BaseModel):
    now: Time
    offline_after_h: float = Field(ge=0)
    total: int = Field(ge=0)
    counts: dict[Reason, int]
    items: list[VisitOut] = Field(max_length=500)


@dataclass(frozen=True)
class _Read:
    at: float  # monotonic time of the read
    now: float  # the hub's time the health was read for
    homes: list[HomeHealth]  # every active home of the organisation, most urgent first


def _read_all(context: WebContext, now: float) -> list[HomeHealth]:
    with context.sessions() as session:
        return read_health(session, true(), now)


def _visible(context: WebContext, principal: Principal, sites: list[str]) -> set[str] | None:
    """Return the ids of the homes the caller sees (of `sites` when given); None: all."""
    with context.sessions() as session:
        if not sites:
            return visible_homes(session, principal)
        return set(session.scalars(select(Home.id).where(
            Home.site_id.in_(sites), home_filter(session, principal, Home.id))))


async def _health(request: Request, context: WebContext, principal: Principal,
                  sites: list[str], now: float) -> tuple[float, list[HomeHealth]]:
    """Return the time read for and the health of the homes the caller sees.

    The organisation's fleet is read once for every request within `FLEET_READ_S`, beside
    the loop (at 10,000 homes a read takes most of a second of a core: a desk of several
    screens polling it would otherwise keep a core busy); each caller then keeps its homes.
    """
    state = request.app.state
    if not hasattr(state, "fleet_lock"):
        state.fleet_lock, state.fleet_read = asyncio.Lock(), None
    async with state.fleet_lock:  # callers meanwhile wait for the one read under way
        read: _Read | None = state.fleet_read
        if read is None or time.monotonic() - read.at > FLEET_READ_S or \
                abs(now - read.now) > FLEET_READ_S:
            read = state.fleet_read = _Read(time.monotonic(), now,
                                            await asyncio.to_thread(_read_all, context, now))
    visible = await asyncio.to_thread(_visible, context, principal, sites)
    return read.now, [h for h in read.homes if visible is None or h.id in visible]


@router.get("/health", response_model=FleetHealth)
async def fleet_health(
    principal: Reader, context: ContextDep, clock: ClockDep, request: Request,
    site: Sites = [],  # noqa: B006  # FastAPI copies query defaults
    state: Annotated[list[State], Query(max_length=len(STATES),
                                        description="Only homes in any of these states.")] = [],  # noqa: B006
    limit: Limit = 100, offset: Offset = 0,
) -> FleetHealth:
    """List the homes the caller sees with their agent's and devices' health, most urgent
    first: open alerts, agents offline, silent devices, faults, low batteries."""
    now, homes = await _health(request, context, principal, site, clock.now())
    counts = {s: sum(1 for h in homes if s in h.states) for s in STATES}
    if state:
        homes = [h for h in homes if set(h.states) & set(state)]
    return FleetHealth(now=now, total=len(homes), counts=counts,
                       items=[HomeOut.model_validate(h) for h in homes[offset:offset + limit]])


def _visit(visit: Visit) -> VisitOut:
    zh, en = pair(REASON_TEXTS[visit.reason], "web")
    home: HomeHealth = visit.home
    device = visit.device
    detail = ""
    if device is not None and visit.reason == "device_fault":
        detail = device.fault or ""
    elif device is not None and visit.reason == "low_battery" and device.battery_pct is not None:
        detail = f"{device.battery_pct:g} %"
    return VisitOut(home=home.id, site=home.site, address=home.address, resident=home.resident,
                    device=device.id if device else None,
                    device_type=device.type if device else None, reason=visit.reason,
                    text_zh=zh, text_en=en, detail=detail, since=visit.since)


@router.get("/visits", response_model=Visits)
async def fleet_visits(
    principal: Reader, context: ContextDep, clock: ClockDep, request: Request,
    site: Sites = [],  # noqa: B006
    offline_hours: Annotated[float, Query(ge=0, le=24 * 30, description=(
        "An agent offline for at least this many hours needs a visit."))] = 2.0,
    limit: Limit = 100, offset: Offset = 0,
) -> Visits:
    """List what needs a visit today, with the reason in Chinese and English: home units
    offline for `offline_hours`, silent or faulty devices, low batteries."""
    now, homes = await _health(request, context, principal, site, clock.now())
    found = visits(homes, now, offline_after_s=offline_hours * 3600)
    counts = {r: sum(1 for v in found if v.reason == r) for r in REASONS}
    return Visits(now=now, offline_after_h=offline_hours, total=len(found), counts=counts,
                  items=[_visit(v) for v in found[offset:offset + limit]])
