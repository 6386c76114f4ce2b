"""The registry over REST: homes, their residents and devices (`/api/registry/...`).

Admins write; the desk and integrations read everything; caregivers read the homes of their
stations; family read their resident's home. What is out of scope is a 404, as is an
unknown id. A home enrolled here is known to ingest and the alert engine at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import registry
from hub.db import Device, Home, Resident
from hub.registry.models import (
    DeviceIn,
    DevicePatch,
    HomeIn,
    HomePatch,
    ResidentIn,
    ResidentPatch,
)
from hub.web.auth import Principal, require
from hub.web.deps import SessionDep
from hub.web.routes.registry import (
    Admin,
    Id,
    IdFilter,
    Limit,
    Offset,
    as_dict,
    changes,
    page,
)
from hub.web.scope import home_filter

router = APIRouter(prefix="/registry", tags=["registry"])

Reader = Annotated[Principal, require("admin", "desk", "caregiver", "family", "integration")]


def visible_home(session: Session, principal: Principal, home_id: str) -> Home:
    """Return a home the caller sees; 404 for one missing or out of scope."""
    row = session.get(Home, home_id)
    if row is None or not principal.sees_home(row.id, row.site_id):
        raise HTTPException(404, f"no home {home_id!r}")
    return row


def visible_resident(session: Session, principal: Principal, resident_id: str) -> Resident:
    """Return a resident the caller sees; 404 for one missing or out of scope."""
    row = session.get(Resident, resident_id)
    if row is None:
        raise HTTPException(404, f"no resident {resident_id!r}")
    home = session.get(Home, row.home_id)
    if home is None or not principal.sees_home(home.id, home.site_id):
        raise HTTPException(404, f"no resident {resident_id!r}")
    return row


def home_detail(session: Session, row: Home) -> dict[str, Any]:
    """Return a home with its residents and devices."""
    residents = session.scalars(select(Resident).where(Resident.home_id == row.id)
                                .order_by(Resident.id))
    devices = session.scalars(select(Device).where(Device.home_id == row.id)
                              .order_by(Device.id))
    return {**as_dict(row), "residents": [as_dict(r) for r in residents],
            "devices": [as_dict(d) for d in devices]}


# -- homes ---------------------------------------------------------------------------------


@router.get("/homes")
async def list_homes(principal: Reader, session: SessionDep, limit: Limit = 100,
                     offset: Offset = 0, site: IdFilter = None) -> dict[str, Any]:
    """List the homes the caller sees (retired ones too: `active` says), by site."""
    query = select(Home).where(home_filter(session, principal, Home.id))
    if site is not None:
        query = query.where(Home.site_id == site)
    return page(session, query.order_by(Home.id), limit, offset)


@router.post("/homes", status_code=201)
async def create_home(body: HomeIn, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Enrol a home, with its resident and devices; an id is made up (h-<8 hex>) if absent."""
    with changes(session):
        row = registry.create_home(session, body)
    return home_detail(session, row)


@router.get("/homes/{home_id}")
async def get_home(home_id: Id, principal: Reader, session: SessionDep) -> dict[str, Any]:
    """Return one home with its residents and devices."""
    return home_detail(session, visible_home(session, principal, home_id))


@router.patch("/homes/{home_id}")
async def update_home(home_id: Id, body: HomePatch,  # type: ignore[valid-type]
                      _: Admin, session: SessionDep) -> dict[str, Any]:
    """Change a home; a retired home comes back."""
    with changes(session):
        row = registry.update_home(session, home_id, body)
    return home_detail(session, row)


@router.post("/homes/{home_id}/deactivate")
async def deactivate_home(home_id: Id, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Retire a home: still known to ingest, its rules and contacts stop."""
    with changes(session):
        row = registry.deactivate_home(session, home_id)
    return as_dict(row)


# -- devices -------------------------------------------------------------------------------


@router.post("/homes/{home_id}/devices", status_code=201)
async def create_device(home_id: Id, body: DeviceIn, _: Admin,
                        session: SessionDep) -> dict[str, Any]:
    """Add a device to a home, by its id on the wire."""
    with changes(session):
        row = registry.create_device(session, home_id, body)
    return as_dict(row)


@router.patch("/homes/{home_id}/devices/{device_id}")
async def update_device(home_id: Id, device_id: Id,
                        body: DevicePatch,  # type: ignore[valid-type]
                        _: Admin, session: SessionDep) -> dict[str, Any]:
    """Change a device's type, role or label."""
    with changes(session):
        row = registry.update_device(session, home_id, device_id, body)
    return as_dict(row)


@router.post("/homes/{home_id}/devices/{device_id}/deactivate")
async def deactivate_device(home_id: Id, device_id: Id, _: Admin,
                            session: SessionDep) -> dict[str, Any]:
    """Mark a device removed from the home."""
    with changes(session):
        row = registry.deactivate_device(session, home_id, device_id)
    return as_dict(row)


# -- residents -----------------------------------------------------------------------------


@router.get("/residents")
async def list_residents(principal: Reader, session: SessionDep, limit: Limit = 100,
                         offset: Offset = 0, home: IdFilter = None) -> dict[str, Any]:
    """List the residents the caller sees, by home."""
    query = select(Resident).where(home_filter(session, principal, Resident.home_id))
    if home is not None:
        query = query.where(Resident.home_id == home)
    return page(session, query.order_by(Resident.id), limit, offset)


@router.post("/residents", status_code=201)
async def create_resident(body: ResidentIn, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Add a resident to a home (`home`); an id is made up (r-<8 hex>) if absent."""
    with changes(session):
        row = registry.create_resident(session, body)
    return as_dict(row)


@router.get("/residents/{resident_id}")
async def get_resident(resident_id: Id, principal: Reader,
                       session: SessionDep) -> dict[str, Any]:
    """Return one resident."""
    return as_dict(visible_resident(session, principal, resident_id))


@router.patch("/residents/{resident_id}")
async def update_resident(resident_id: Id, body: ResidentPatch,  # type: ignore[valid-type]
                          _: Admin, session: SessionDep) -> dict[str, Any]:
    """Change what is known of a resident, their consent included."""
    with changes(session):
        row = registry.update_resident(session, resident_id, body)
    return as_dict(row)


@router.post("/residents/{resident_id}/deactivate")
async def deactivate_resident(resident_id: Id, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Mark a resident as no longer cared for; kept until erased."""
    with changes(session):
        row = registry.deactivate_resident(session, resident_id)
    return as_dict(row)
