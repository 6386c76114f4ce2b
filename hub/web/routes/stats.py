"""Statistics: the hub's counters, and how alerts were resolved."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from hub.db import Alert, DeadLetter
from hub.web.auth import Principal, require
from hub.web.deps import EngineDep, SessionDep, StatusDep
from hub.web.limits import InternalErrorsDep

# The organisation's counters: for the fleet's roles, not one station's caregivers.
Fleet = Annotated[Principal, require("admin", "desk", "integration")]

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get("")
async def stats(principal: Fleet, session: SessionDep, status: StatusDep, engine: EngineDep,
                errors: InternalErrorsDep, request: Request) -> dict[str, Any]:
    dead = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
    return {
        "dead_letters": dead,
        "uptime_s": round(status.uptime_s, 1),
        "ingest": dict(status.ingest), "rejected": dict(status.rejected),
        "duplicates": status.duplicates, "influx": dict(status.influx),
        "alerts": engine.counters,
        "loop_lag_ms": dict(status.loop_lag_ms),
        "hub_internal_errors": errors.count,  # requests answered 500
        "logins": dict(request.app.state.login_counters),
    }


@router.get("/alerts")
async def alert_stats(principal: Fleet, session: SessionDep) -> dict[str, Any]:
    """Return per kind: alerts, how they were resolved, and the share of false alarms."""
    rows = session.execute(select(Alert.kind, Alert.resolution, func.count())
                           .group_by(Alert.kind, Alert.resolution)).all()
    breaches = session.execute(select(
        func.count().filter(Alert.ack_breached), func.count().filter(
            Alert.arrival_breached))).one()
    kinds: dict[str, dict[str, Any]] = {}
    for kind, resolution, count in rows:
        entry = kinds.setdefault(kind, {"alerts": 0, "resolutions": {}})
        entry["alerts"] += count
        entry["resolutions"][resolution or "unresolved"] = count
    for entry in kinds.values():
        judged = sum(v for k, v in entry["resolutions"].items()
                     if k in ("real", "false_alarm"))
        entry["false_alarm_share"] = (
            round(entry["resolutions"].get("false_alarm", 0) / judged, 3) if judged else None)
    return {"kinds": kinds, "sla_ack_breaches": breaches[0],
            "sla_arrival_breaches": breaches[1]}
