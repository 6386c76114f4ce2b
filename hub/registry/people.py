"""People who can be paged (staff, desk, technicians, family, doctors) and the sites' rota.

Like `hub.registry.service`: validated, flushed, the caller commits; nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bedwatch.i18n import pick_language
from hub.db import Caregiver, Home, Organisation, RotaOverride, RotaShift, Site
from hub.registry.access import ORG_SITE_ID
from hub.registry.models import (
    HOME_ROLES,
    ORG_ROLES,
    SITE_ROLES,
    OverrideIn,
    PersonIn,
    RotaIn,
    ShiftIn,
)
from hub.registry.service import (
    Conflict,
    RegistryError,
    active_site,
    ensure_org_site,
    get,
    merge,
    new_id,
    ref,
)


def _person_place(session: Session, data: PersonIn) -> tuple[str, str | None]:
    """Return (site id, home id) of a person's row, checking the role's references."""
    if data.role in SITE_ROLES:
        if data.site is None or data.home is not None:
            raise RegistryError(f"site: a person with role {data.role!r} works for a site: "
                                "give `site` and no `home`")
        active_site(session, data.site)
        return data.site, None
    if data.role in ORG_ROLES:
        if data.site is not None or data.home is not None:
            raise RegistryError(f"site: role {data.role!r} belongs to the organisation: "
                                "give neither `site` nor `home`")
        ensure_org_site(session)
        return ORG_SITE_ID, None
    assert data.role in HOME_ROLES
    if data.home is None:
        raise RegistryError(f"home: a {data.role} contact belongs to one home: give `home`")
    home = ref(session, Home, data.home, "home")
    return home.site_id, home.id


def create_person(session: Session, data: PersonIn) -> Caregiver:
    """Add a person who can be paged: staff, desk, technician, family or doctor."""
    person_id = data.id or new_id("p")
    if session.get(Caregiver, person_id) is not None:
        raise Conflict(f"person {person_id!r} exists")
    site_id, home_id = _person_place(session, data)
    row = Caregiver(id=person_id, name=data.name, role=data.role, site_id=site_id,
                    home_id=home_id, notify=list(data.notify), phone=data.phone,
                    language=data.language, active=True)
    session.add(row)
    session.flush()
    return row


def person_document(row: Caregiver) -> dict[str, Any]:
    """Return a person row as the fields of a PersonIn."""
    staff = row.role in SITE_ROLES
    return {"id": row.id, "name": row.name, "role": row.role,
            "site": row.site_id if staff else None, "home": row.home_id,
            "notify": row.notify, "phone": row.phone, "language": row.language}


def update_person(session: Session, person_id: str,
                  changes: BaseModel | Mapping[str, Any]) -> Caregiver:
    """Change a person's name, role, place, channels or phone; a deactivated one comes back.

    Their links work again at once; a role change counts from the next page.
    """
    row = get(session, Caregiver, person_id, "person")
    data = merge(PersonIn, person_document(row), changes)
    row.site_id, row.home_id = _person_place(session, data)
    row.name, row.role, row.notify, row.phone = data.name, data.role, list(data.notify), \
        data.phone
    row.language = data.language
    row.active = True
    session.flush()
    return row


def person_language(session: Session, person: Caregiver) -> str:
    """Return the language of a person's pages: their own, else their organisation's, else
    zh_CN. The desk and technicians belong to the organisation when there is just one."""
    if person.language:
        return pick_language(person.language)
    site = session.get(Site, person.site_id)
    org_id = site.organisation_id if site else None
    if org_id is None:
        orgs = session.scalars(select(Organisation.id).where(Organisation.active)
                               .limit(2)).all()
        org_id = orgs[0] if len(orgs) == 1 else None
    organisation = session.get(Organisation, org_id) if org_id else None
    return pick_language(organisation.language if organisation else None)


def deactivate_person(session: Session, person_id: str) -> Caregiver:
    """Remove a person from paging: their links and pages stop working at once."""
    row = get(session, Caregiver, person_id, "person")
    row.active = False
    session.flush()
    return row


def override_at(value: datetime, zone: ZoneInfo) -> float:
    """Return UTC seconds of a rota time; one without an offset is the site's local time."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).timestamp()


def set_rota(session: Session, site_id: str, rota: RotaIn) -> None:
    """Replace a site's rota (weekly shifts and one-off overrides); it counts at once."""
    site = get(session, Site, site_id, "site")
    if site.id == ORG_SITE_ID:
        raise RegistryError(f"site {site_id!r} has no rota")
    entries: list[ShiftIn | OverrideIn] = [*rota.shifts, *rota.overrides]
    for i, entry in enumerate(entries):
        kind, n = ("shifts", i) if i < len(rota.shifts) else ("overrides", i - len(rota.shifts))
        person = session.get(Caregiver, entry.caregiver)
        if person is None or person.site_id != site_id or person.role not in SITE_ROLES:
            raise RegistryError(f"{kind}[{n}].caregiver: {entry.caregiver!r} is not staff "
                                f"of site {site_id!r}")
        if isinstance(entry, OverrideIn):
            if (entry.start.tzinfo is None) != (entry.end.tzinfo is None):
                raise RegistryError(f"{kind}[{n}].end: give both times with an offset, or "
                                    "neither (site-local time)")
            if entry.end <= entry.start:
                raise RegistryError(f"{kind}[{n}].end: must be after start")
    zone = ZoneInfo(site.timezone)
    session.execute(delete(RotaShift).where(RotaShift.site_id == site_id))
    session.execute(delete(RotaOverride).where(RotaOverride.site_id == site_id))
    session.add_all(RotaShift(site_id=site_id, caregiver_id=s.caregiver, role=s.role,
                              days=list(s.days), start=s.start, end=s.end)
                    for s in rota.shifts)
    session.add_all(RotaOverride(site_id=site_id, caregiver_id=o.caregiver, role=o.role,
                                 start_at=override_at(o.start, zone),
                                 end_at=override_at(o.end, zone))
                    for o in rota.overrides)
    session.flush()
