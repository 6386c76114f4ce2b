"""A resident's data rights over REST: export everything held, and erase it (admins only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException

from hub import data_rights
from hub.config import InfluxSection
from hub.influx import InfluxError, InfluxWriter
from hub.registry import RegistryError
from hub.web.deps import ClockDep, ContextDep, SessionDep
from hub.web.routes.registry import Admin, Id

router = APIRouter(prefix="/residents", tags=["data rights"])


async def get_influx(context: ContextDep) -> AsyncIterator[InfluxWriter]:
    """Yield a client of the hub's InfluxDB (the settings the alert engine was given)."""
    section = getattr(context.engine.config, "influx", None)
    if not isinstance(section, InfluxSection):
        raise HTTPException(503, "this hub was started without InfluxDB settings")
    influx = InfluxWriter(section)
    try:
        yield influx
    finally:
        await influx.close()


InfluxDep = Annotated[InfluxWriter, Depends(get_influx)]


def _unreachable(exc: Exception) -> HTTPException:
    return HTTPException(502, f"InfluxDB did not answer, nothing was changed: {exc}")


@router.get("/{resident_id}/export")
async def export_resident(resident_id: Id, _: Admin, session: SessionDep,
                          influx: InfluxDep) -> dict[str, Any]:
    """Return everything held about a resident and their home, readings included."""
    try:
        return await data_rights.export_resident(session, resident_id, influx)
    except RegistryError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    except (httpx.HTTPError, InfluxError) as exc:
        raise _unreachable(exc) from exc


@router.delete("/{resident_id}")
async def erase_resident(resident_id: Id, principal: Admin, session: SessionDep,
                         influx: InfluxDep, clock: ClockDep) -> dict[str, Any]:
    """Erase a resident and their home's personal data (SQL rows and InfluxDB series);
    one audit entry records who did it, when, and how many rows went."""
    try:
        return await data_rights.erase_resident(session, resident_id, influx,
                                                actor=principal.id, now=clock.now())
    except RegistryError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    except (httpx.HTTPError, InfluxError) as exc:
        raise _unreachable(exc) from exc
