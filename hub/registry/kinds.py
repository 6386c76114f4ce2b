"""One row per kind of registry record, for tools that handle every kind alike (the CLI).

Devices are addressed as `<home>/<device>`; everything else by its id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import Base, Caregiver, Device, Home, Organisation, Resident, Site
from hub.registry import people, service
from hub.registry.access import ORG_SITE_ID
from hub.registry.models import DeviceIn, HomeIn, OrganisationIn, PersonIn, ResidentIn, SiteIn


@dataclass(frozen=True)
class RecordKind:
    model: type[BaseModel]  # what `add` validates
    row: type[Base]
    create: Callable[[Session, Any], Base]
    update: Callable[[Session, str, Mapping[str, Any]], Base] | None
    deactivate: Callable[[Session, str], Base] | None
    summary: Callable[[Any], str]  # one line for a listing


def _device_create(session: Session, data: Any) -> Base:
    fields = data.model_dump()
    home = fields.pop("home")
    return service.create_device(session, home, DeviceIn.model_validate(fields))


def _device_key(key: str) -> tuple[str, str]:
    home, _, device = key.partition("/")
    if not device:
        raise service.RegistryError(f"{key!r}: name a device as <home>/<device>")
    return home, device


class _DeviceAdd(DeviceIn):
    home: str


KINDS: dict[str, RecordKind] = {
    "organisation": RecordKind(
        OrganisationIn, Organisation, service.create_organisation, service.update_organisation,
        None, lambda r: f"{r.name} ({r.timezone}, {r.language})"),
    "site": RecordKind(
        SiteIn, Site, service.create_site, service.update_site, service.deactivate_site,
        lambda r: f"{r.name} ({r.kind})"),
    "home": RecordKind(
        HomeIn, Home, service.create_home, service.update_home, service.deactivate_home,
        lambda r: f"site {r.site_id}: {r.resident_name}, {r.address}"),
    "resident": RecordKind(
        ResidentIn, Resident, service.create_resident, service.update_resident,
        service.deactivate_resident, lambda r: f"home {r.home_id}: {r.name}"),
    "device": RecordKind(
        _DeviceAdd, Device, _device_create,
        lambda s, k, c: service.update_device(s, *_device_key(k), c),
        lambda s, k: service.deactivate_device(s, *_device_key(k)),
        lambda r: f"home {r.home_id}: {r.type} {r.label}"),
    "person": RecordKind(
        PersonIn, Caregiver, people.create_person, people.update_person,
        people.deactivate_person,
        lambda r: f"{r.role} of {r.home_id or r.site_id}: {r.name}"),
}


def kind_of(name: str) -> RecordKind:
    """Return the row of a kind; RegistryError naming the kinds if there is none."""
    if name not in KINDS:
        raise service.RegistryError(f"unknown kind {name!r}: one of {', '.join(KINDS)}")
    return KINDS[name]


def add(session: Session, name: str, fields: Mapping[str, Any]) -> Base:
    """Create a record of kind `name` from plain fields; RegistryError on bad ones."""
    kind = kind_of(name)
    try:
        data = kind.model.model_validate(dict(fields))
    except ValidationError as exc:
        raise service.RegistryError("; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())) from exc
    return kind.create(session, data)


def listing(session: Session, name: str) -> list[tuple[str, bool, str]]:
    """Return (id, active, summary) of every record of kind `name`."""
    kind = kind_of(name)
    rows = session.scalars(select(kind.row)).all()
    out = []
    for row in rows:
        key = (f"{row.home_id}/{row.id}" if isinstance(row, Device)
               else str(row.id))  # type: ignore[attr-defined]
        if key == ORG_SITE_ID:
            continue
        out.append((key, bool(getattr(row, "active", True)), kind.summary(row)))
    return sorted(out)
