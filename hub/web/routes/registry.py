"""The registry over REST: organisations, sites, people and the rota (`/api/registry/...`).

Admins write; the desk and integrations read everything; caregivers read their stations'.
Every change counts at the next event: the alert engine reads these rows per event. Homes,
residents and devices are in `registry_homes.py`; export and erasure in `registry_rights.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from hub import registry
from hub.db import Base, Caregiver, Organisation, RotaOverride, RotaShift, Site
from hub.registry.models import (
    OrganisationIn,
    OrganisationPatch,
    PersonIn,
    PersonPatch,
    RotaIn,
    SiteIn,
    SitePatch,
)
from hub.web.auth import Principal, require
from hub.web.deps import MAX_ID, SessionDep

router = APIRouter(prefix="/registry", tags=["registry"])

Admin = Annotated[Principal, require("admin")]
Staff = Annotated[Principal, require("admin", "desk", "caregiver", "integration")]
Fleet = Annotated[Principal, require("admin", "desk", "integration")]
Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
# A filter by the id of a site, a home or a role: ids are at most 64 characters.
IdFilter = Annotated[str | None, Query(max_length=64, description="Only rows of this id.")]
Id = Annotated[str, Path(min_length=1, max_length=64, description="Registry id.")]


def as_dict(row: Base) -> dict[str, Any]:
    """Return a row's columns."""
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


@contextmanager
def changes(session: Session) -> Iterator[None]:
    """Commit a registry change; a RegistryError is its status (404, 409, 422)."""
    try:
        yield
        session.commit()
    except registry.RegistryError as exc:
        session.rollback()
        raise HTTPException(exc.status, str(exc)) from exc
    except IntegrityError as exc:  # another request took the same id in between
        session.rollback()
        raise HTTPException(409, "a row with this id was just written; ask again") from exc


def page(session: Session, query: Select[Any], limit: int, offset: int) -> dict[str, Any]:
    """Return one page of rows of `query`: `total` and `items`."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows: Sequence[Base] = session.scalars(query.limit(limit).offset(offset)).all()
    return {"total": total, "items": [as_dict(r) for r in rows]}


def site_scope(principal: Principal) -> ColumnElement[bool]:
    """Return a WHERE clause keeping the sites `principal` sees."""
    return true() if principal.sees_all else Site.id.in_(sorted(principal.sites))


def visible_site(session: Session, principal: Principal, site_id: str) -> Site:
    """Return a site the caller sees; 404 for one missing or out of scope."""
    row = session.get(Site, site_id)
    if row is None or site_id == registry.ORG_SITE_ID or not principal.sees_site(site_id):
        raise HTTPException(404, f"no site {site_id!r}")
    return row


# -- organisations -------------------------------------------------------------------------


@router.get("/organisations")
async def list_organisations(_: Fleet, session: SessionDep, limit: Limit = 100,
                             offset: Offset = 0) -> dict[str, Any]:
    """List the organisations."""
    return page(session, select(Organisation).order_by(Organisation.id), limit, offset)


@router.post("/organisations", status_code=201)
async def create_organisation(body: OrganisationIn, _: Admin,
                              session: SessionDep) -> dict[str, Any]:
    """Add an organisation."""
    with changes(session):
        row = registry.create_organisation(session, body)
    return as_dict(row)


@router.get("/organisations/{org_id}")
async def get_organisation(org_id: Id, _: Fleet, session: SessionDep) -> dict[str, Any]:
    """Return one organisation."""
    row = session.get(Organisation, org_id)
    if row is None:
        raise HTTPException(404, f"no organisation {org_id!r}")
    return as_dict(row)


@router.patch("/organisations/{org_id}")
async def update_organisation(org_id: Id, body: OrganisationPatch,  # type: ignore[valid-type]
                              _: Admin, session: SessionDep) -> dict[str, Any]:
    """Change an organisation's name, time zone or language."""
    with changes(session):
        row = registry.update_organisation(session, org_id, body)
    return as_dict(row)


# -- sites and their rota ------------------------------------------------------------------


@router.get("/sites")
async def list_sites(principal: Staff, session: SessionDep, limit: Limit = 100,
                     offset: Offset = 0) -> dict[str, Any]:
    """List the sites the caller sees (retired ones too: `active` says)."""
    query = select(Site).where(Site.id != registry.ORG_SITE_ID, site_scope(principal))
    return page(session, query.order_by(Site.id), limit, offset)


@router.post("/sites", status_code=201)
async def create_site(body: SiteIn, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Add a site (care station)."""
    with changes(session):
        row = registry.create_site(session, body)
    return as_dict(row)


@router.get("/sites/{site_id}")
async def get_site(site_id: Id, principal: Staff, session: SessionDep) -> dict[str, Any]:
    """Return one site."""
    return as_dict(visible_site(session, principal, site_id))


@router.patch("/sites/{site_id}")
async def update_site(site_id: Id, body: SitePatch,  # type: ignore[valid-type]
                      _: Admin, session: SessionDep) -> dict[str, Any]:
    """Change a site's settings; a retired site comes back."""
    with changes(session):
        row = registry.update_site(session, site_id, body)
    return as_dict(row)


@router.post("/sites/{site_id}/deactivate")
async def deactivate_site(site_id: Id, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Retire a site: its homes page the desk until they move."""
    with changes(session):
        row = registry.deactivate_site(session, site_id)
    return as_dict(row)


@router.get("/sites/{site_id}/rota")
async def get_rota(site_id: Id, principal: Staff, session: SessionDep) -> dict[str, Any]:
    """Return a site's rota: weekly shifts and one-off overrides (UTC seconds)."""
    visible_site(session, principal, site_id)
    shifts = session.scalars(select(RotaShift).where(RotaShift.site_id == site_id)
                             .order_by(RotaShift.id))
    overrides = session.scalars(select(RotaOverride).where(RotaOverride.site_id == site_id)
                                .order_by(RotaOverride.start_at))
    return {"shifts": [as_dict(s) for s in shifts],
            "overrides": [as_dict(o) for o in overrides]}


@router.put("/sites/{site_id}/rota")
async def set_rota(site_id: Id, body: RotaIn, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Replace a site's rota; it counts from the next page on."""
    with changes(session):
        registry.set_rota(session, site_id, body)
    return {"site": site_id, "shifts": len(body.shifts), "overrides": len(body.overrides)}


# -- people --------------------------------------------------------------------------------


def person_scope(principal: Principal) -> ColumnElement[bool]:
    """Keep the people a caregiver may see: staff and contacts of their stations."""
    return true() if principal.sees_all else Caregiver.site_id.in_(sorted(principal.sites))


@router.get("/people")
async def list_people(principal: Staff, session: SessionDep, limit: Limit = 100,
                      offset: Offset = 0, site: IdFilter = None, home: IdFilter = None,
                      role: IdFilter = None) -> dict[str, Any]:
    """List people (staff, desk, technicians, family, doctors), by site, home or role."""
    query = select(Caregiver).where(person_scope(principal))
    if site is not None:
        query = query.where(Caregiver.site_id == site)
    if home is not None:
        query = query.where(Caregiver.home_id == home)
    if role is not None:
        query = query.where(Caregiver.role == role)
    return page(session, query.order_by(Caregiver.id), limit, offset)


@router.post("/people", status_code=201)
async def create_person(body: PersonIn, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Add a person who can be paged."""
    with changes(session):
        row = registry.create_person(session, body)
    return as_dict(row)


@router.get("/people/{person_id}")
async def get_person(person_id: Id, principal: Staff, session: SessionDep) -> dict[str, Any]:
    """Return one person."""
    row = session.get(Caregiver, person_id)
    if row is None or not principal.sees_site(row.site_id):
        raise HTTPException(404, f"no person {person_id!r}")
    return as_dict(row)


@router.patch("/people/{person_id}")
async def update_person(person_id: Id, body: PersonPatch,  # type: ignore[valid-type]
                        _: Admin, session: SessionDep) -> dict[str, Any]:
    """Change a person; a deactivated one comes back."""
    with changes(session):
        row = registry.update_person(session, person_id, body)
    return as_dict(row)


@router.post("/people/{person_id}/deactivate")
async def deactivate_person(person_id: Id, _: Admin, session: SessionDep) -> dict[str, Any]:
    """Stop paging a person: their links stop working at once."""
    with changes(session):
        row = registry.deactivate_person(session, person_id)
    return as_dict(row)
