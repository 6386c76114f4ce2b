"""Health: is the hub connected to its broker, InfluxDB and SQL store (open, no token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from hub.web.deps import SessionDep, StatusDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(session: SessionDep, status: StatusDep) -> JSONResponse:
    checks = {"mqtt": status.mqtt_connected, "influxdb": status.influx_reachable}
    try:
        session.execute(select(1))
        checks["database"] = True
    except Exception:
        checks["database"] = False
    ok = all(checks.values())
    return JSONResponse({"ok": ok, **checks}, status_code=200 if ok else 503)
