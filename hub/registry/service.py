"""Create, update and deactivate the registry rows the alert engine reads at every event.

Each function validates what it is given (the models of `hub.registry.models`), checks the
references, writes the rows and flushes; the caller commits. Nothing is ever deleted here:
a row that leaves the registry is marked inactive, so its history stays readable (erasing a
resident is `hub.data_rights`). Errors are `RegistryError`s: NotFound (an unknown id),
Conflict (an id already taken) or RegistryError itself (a bad reference or value).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import (
    Base,
    Caregiver,
    Device,
    Home,
    Organisation,
    Resident,
    Site,
)
from hub.registry.access import ORG_SITE_ID
from hub.registry.models import (
    DeviceIn,
    HomeIn,
    OrganisationIn,
    ResidentIn,
    SiteIn,
)

R = TypeVar("R", bound=Base)
M = TypeVar("M", bound=BaseModel)


class RegistryError(ValueError):
    """A registry change that cannot be made; `status` is its HTTP status."""

    status = 422


class NotFound(RegistryError):
    status = 404


class Conflict(RegistryError):
    status = 409


def new_id(prefix: str) -> str:
    """Return an opaque id: `<prefix>-<8 hex>` (no name or place in it)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def get(session: Session, model: type[R], key: Any, what: str) -> R:
    """Return the row `key` of `model`; NotFound naming `what` if there is none."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key!r}")
    return row


def ref(session: Session, model: type[R], key: Any, field: str) -> R:
    """Return the row a request's `field` refers to; RegistryError (422) if there is none."""
    row = session.get(model, key)
    if row is None:
        raise RegistryError(f"{field}: unknown {field} {key!r}")
    return row


def merge(model: type[M], current: Mapping[str, Any], changes: BaseModel | Mapping[str, Any]
          ) -> M:
    """Return `current` with `changes` applied, validated as `model`; RegistryError if not."""
    given = changes.model_dump(exclude_unset=True) if isinstance(changes, BaseModel) \
        else dict(changes)
    try:
        return model.model_validate({**current, **given})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise RegistryError(problems) from exc


# -- organisations and sites ---------------------------------------------------------------


def create_organisation(session: Session, data: OrganisationIn) -> Organisation:
    """Add an organisation."""
    if session.get(Organisation, data.id) is not None:
        raise Conflict(f"organisation {data.id!r} exists")
    row = Organisation(**data.model_dump(), active=True)
    session.add(row)
    session.flush()
    return row


def update_organisation(session: Session, org_id: str,
                        changes: BaseModel | Mapping[str, Any]) -> Organisation:
    """Change an organisation's name, time zone or language."""
    row = get(session, Organisation, org_id, "organisation")
    data = merge(OrganisationIn, {"id": row.id, "name": row.name, "timezone": row.timezone,
                                   "language": row.language}, changes)
    row.name, row.timezone, row.language = data.name, data.timezone, data.language
    session.flush()
    return row


def site_fields(data: SiteIn) -> dict[str, Any]:
    """Return the row values of a validated site."""
    assert data.ack_target_s is not None and data.arrival_target_s is not None
    return {"name": data.name, "kind": data.kind, "timezone": data.timezone,
            "ack_target_s": data.ack_target_s, "arrival_target_s": data.arrival_target_s,
            "escalation": [step.model_dump() for step in data.escalation],
            "reminder_every_s": data.reminder_every_s, "rules": rule_overrides(data.rules),
            "organisation_id": data.organisation}


def rule_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return alert rule overrides as stored: only the keys each override sets."""
    # Only what an override says: an absent key leaves the layer below as it is.
    return {kind: o.model_dump(exclude_none=True) for kind, o in overrides.items()}


def _check_organisation(session: Session, org_id: str | None) -> None:
    if org_id is not None:
        ref(session, Organisation, org_id, "organisation")


def create_site(session: Session, data: SiteIn) -> Site:
    """Add a site (care station); its homes page its caregivers from the next event on."""
    if data.id == ORG_SITE_ID or session.get(Site, data.id) is not None:
        raise Conflict(f"site {data.id!r} exists")
    _check_organisation(session, data.organisation)
    row = Site(id=data.id, active=True, **site_fields(data))
    session.add(row)
    session.flush()
    return row


def site_document(row: Site) -> dict[str, Any]:
    """Return a site row as the fields of a SiteIn."""
    return {"id": row.id, "name": row.name, "kind": row.kind, "timezone": row.timezone,
            "ack_target_s": row.ack_target_s, "arrival_target_s": row.arrival_target_s,
            "escalation": row.escalation, "reminder_every_s": row.reminder_every_s,
            "rules": row.rules, "organisation": row.organisation_id}


def update_site(session: Session, site_id: str,
                changes: BaseModel | Mapping[str, Any]) -> Site:
    """Change a site's settings (targets, chain, rules, ...); a deactivated one comes back."""
    row = get(session, Site, site_id, "site")
    data = merge(SiteIn, site_document(row), changes)
    _check_organisation(session, data.organisation)
    for key, value in site_fields(data).items():
        setattr(row, key, value)
    row.active = True
    session.flush()
    return row


def deactivate_site(session: Session, site_id: str) -> Site:
    """Retire a site: its homes page the desk until they move to another site."""
    row = get(session, Site, site_id, "site")
    if row.id == ORG_SITE_ID:
        raise RegistryError("the organisation's own desk and technicians are not a site")
    row.active = False
    session.flush()
    return row


def ensure_org_site(session: Session, timezone: str = "Asia/Shanghai") -> None:
    """Make sure the pseudo-site of the desk and the technicians exists."""
    if session.get(Site, ORG_SITE_ID) is None:
        session.add(Site(id=ORG_SITE_ID, name="Organisation: desk and technicians",
                         kind="urban", timezone=timezone, ack_target_s=60.0,
                         arrival_target_s=60.0, escalation=[], reminder_every_s=60.0,
                         rules={}, active=True))
        session.flush()


# -- homes, residents and devices ----------------------------------------------------------


def active_site(session: Session, site_id: str) -> Site:
    """Return a site a request refers to that can serve homes; RegistryError if none."""
    site = ref(session, Site, site_id, "site")
    if site.id == ORG_SITE_ID:
        raise RegistryError(f"site {site_id!r} serves no homes")
    return site


def home_document(row: Home) -> dict[str, Any]:
    """Return a home row as the fields of a HomeIn (without resident and devices)."""
    return {"id": row.id, "site": row.site_id, "address": row.address,
            "door_notes": row.door_notes, "key_notes": row.key_notes, "phone": row.phone,
            "lat": row.lat, "lon": row.lon, "rules": row.rules}


def create_home(session: Session, data: HomeIn) -> Home:
    """Enrol a home, with its resident and devices if given; return it (its id made up
    as `h-<8 hex>` when `data` has none). Its agent is known from the next message on."""
    home_id = data.id or new_id("h")
    if session.get(Home, home_id) is not None:
        raise Conflict(f"home {home_id!r} exists")
    active_site(session, data.site)
    row = Home(id=home_id, site_id=data.site, address=data.address,
               door_notes=data.door_notes, key_notes=data.key_notes, phone=data.phone,
               lat=data.lat, lon=data.lon, rules=rule_overrides(data.rules), resident_name="",
               doctor_notify=[], active=True)
    session.add(row)
    session.flush()
    if data.resident is not None:
        create_resident(session, data.resident.model_copy(update={"home": home_id}))
    for device in data.devices:
        create_device(session, home_id, device)
    return row


def update_home(session: Session, home_id: str,
                changes: BaseModel | Mapping[str, Any]) -> Home:
    """Change a home's address, notes, site or rules; a deactivated one comes back."""
    row = get(session, Home, home_id, "home")
    data = merge(HomeIn, home_document(row), changes)
    if data.site != row.site_id:
        active_site(session, data.site)
        for contact in session.scalars(select(Caregiver).where(Caregiver.home_id == home_id)):
            contact.site_id = data.site
    row.site_id, row.address, row.phone = data.site, data.address, data.phone
    row.door_notes, row.key_notes, row.lat, row.lon = (data.door_notes, data.key_notes,
                                                        data.lat, data.lon)
    row.rules, row.active = rule_overrides(data.rules), True
    session.flush()
    return row


def deactivate_home(session: Session, home_id: str) -> Home:
    """Retire a home: it stays known (no `unknown_home`), its rules and contacts stop."""
    row = get(session, Home, home_id, "home")
    row.active = False
    for contact in session.scalars(select(Caregiver).where(Caregiver.home_id == home_id)):
        contact.active = False
    session.flush()
    return row


def refresh_resident_name(session: Session, home_id: str) -> None:
    """Write the names of a home's active residents into `homes.resident_name` (pages)."""
    home = get(session, Home, home_id, "home")
    names = session.scalars(select(Resident.name).where(
        Resident.home_id == home_id, Resident.active).order_by(Resident.name))
    home.resident_name = "、".join(names)[:200]


def resident_document(row: Resident) -> dict[str, Any]:
    """Return a resident row as the fields of a ResidentIn."""
    return {"id": row.id, "home": row.home_id, "name": row.name, "sex": row.sex,
            "birth_year": row.birth_year, "phone": row.phone,
            "care_categories": row.care_categories, "conditions": row.conditions,
            "allergies": row.allergies, "medical_notes": row.medical_notes,
            "consent": row.consent, "consent_at": row.consent_at}


def _resident_fields(data: ResidentIn) -> dict[str, Any]:
    at = data.consent_at
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    return {"name": data.name, "sex": data.sex, "birth_year": data.birth_year,
            "phone": data.phone, "care_categories": list(data.care_categories),
            "conditions": data.conditions, "allergies": data.allergies,
            "medical_notes": data.medical_notes, "consent": data.consent.model_dump(),
            "consent_at": at.timestamp() if at is not None else None}


def create_resident(session: Session, data: ResidentIn) -> Resident:
    """Add a resident to a home (`data.home`); the id is made up (`r-<8 hex>`) if absent."""
    if data.home is None:
        raise RegistryError("home: a resident lives in a home: give its id")
    ref(session, Home, data.home, "home")
    resident_id = data.id or new_id("r")
    if session.get(Resident, resident_id) is not None:
        raise Conflict(f"resident {resident_id!r} exists")
    row = Resident(id=resident_id, home_id=data.home, active=True, **_resident_fields(data))
    session.add(row)
    session.flush()
    refresh_resident_name(session, data.home)
    return row


def update_resident(session: Session, resident_id: str,
                    changes: BaseModel | Mapping[str, Any]) -> Resident:
    """Change what is known of a resident, their consent included."""
    row = get(session, Resident, resident_id, "resident")
    current = resident_document(row)
    if current["consent_at"] is not None:
        current["consent_at"] = datetime.fromtimestamp(current["consent_at"], ZoneInfo("UTC"))
    data = merge(ResidentIn, current, changes)
    for key, value in _resident_fields(data).items():
        setattr(row, key, value)
    row.active = True
    session.flush()
    refresh_resident_name(session, row.home_id)
    return row


def deactivate_resident(session: Session, resident_id: str) -> Resident:
    """Mark a resident as no longer cared for (moved out, passed away); kept until erased."""
    row = get(session, Resident, resident_id, "resident")
    row.active = False
    session.flush()
    refresh_resident_name(session, row.home_id)
    return row


def create_device(session: Session, home_id: str, data: DeviceIn) -> Device:
    """Add a device to a home by its id on the wire."""
    get(session, Home, home_id, "home")
    if session.get(Device, (home_id, data.id)) is not None:
        raise Conflict(f"home {home_id!r} has a device {data.id!r}")
    row = Device(home_id=home_id, active=True, **data.model_dump())
    session.add(row)
    session.flush()
    return row


def update_device(session: Session, home_id: str, device_id: str,
                  changes: BaseModel | Mapping[str, Any]) -> Device:
    """Change a device's type, role or label; a deactivated one comes back."""
    row = get(session, Device, (home_id, device_id), "device")
    data = merge(DeviceIn, {"id": row.id, "type": row.type, "role": row.role,
                             "label": row.label}, changes)
    row.type, row.role, row.label, row.active = data.type, data.role, data.label, True
    session.flush()
    return row


def deactivate_device(session: Session, home_id: str, device_id: str) -> Device:
    """Mark a device removed from the home."""
    row = get(session, Device, (home_id, device_id), "device")
    row.active = False
    session.flush()
    return row
