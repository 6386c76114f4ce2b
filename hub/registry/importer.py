"""Take the registry tables of a file (the `[[sites]]`, `[[homes]]`, ... that hub.toml held
before the registry moved into the database) into the database, once.

Rows are upserted and marked active; nothing absent from the file is touched, except the
rota of each site in the file, which the file's shifts and overrides replace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.db import Caregiver, Home, Resident, RotaOverride, RotaShift, Site
from hub.registry.access import ORG_SITE_ID
from hub.registry.models import SiteIn
from hub.registry.people import override_at
from hub.registry.service import (
    ensure_org_site,
    new_id,
    refresh_resident_name,
    rule_overrides,
    site_fields,
)
from hub.registry_file import CaregiverSection, ContactSection, HomeSection, RegistryDocument


@dataclass
class ImportReport:
    """How many rows of each kind the import wrote."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


def import_registry(session: Session, document: RegistryDocument) -> ImportReport:
    """Upsert the document's sites, homes (with their resident and contacts), people and
    rota into the registry rows, and commit. The rota of every site in it is replaced."""
    report = ImportReport()
    ensure_org_site(session)
    for site in document.sites:
        values = site_fields(SiteIn.model_validate(site.model_dump()))
        row = session.get(Site, site.id)
        if row is None:
            row = Site(id=site.id)
            session.add(row)
        values["organisation_id"] = row.organisation_id  # the file names no organisation
        for key, value in values.items():
            setattr(row, key, value)
        row.active = True
        report.add("sites")
    session.flush()
    for home in document.homes:
        _import_home(session, home)
        report.add("homes")
        report.add("residents")
    people: list[tuple[CaregiverSection | ContactSection, str, str]] = [
        *((c, c.role, c.site) for c in document.caregivers),
        *((p, "desk", ORG_SITE_ID) for p in document.desk),
        *((p, "technician", ORG_SITE_ID) for p in document.technicians)]
    for person, role, site_id in people:
        staff = session.get(Caregiver, person.id)
        if staff is None:
            staff = Caregiver(id=person.id, phone="")
            session.add(staff)
        staff.name, staff.role, staff.site_id, staff.home_id = person.name, role, site_id, None
        staff.notify, staff.active = list(person.notify), True
        staff.language = person.language
        report.add("people")
    session.flush()
    sites = [s.id for s in document.sites]
    session.execute(delete(RotaShift).where(RotaShift.site_id.in_(sites)))
    session.execute(delete(RotaOverride).where(RotaOverride.site_id.in_(sites)))
    zones = {s.id: ZoneInfo(s.timezone) for s in document.sites}
    session.add_all(RotaShift(site_id=s.site, caregiver_id=s.caregiver, role=s.role,
                              days=list(s.days), start=s.start, end=s.end)
                    for s in document.shifts)
    session.add_all(RotaOverride(site_id=o.site, caregiver_id=o.caregiver, role=o.role,
                                 start_at=override_at(o.start, zones[o.site]),
                                 end_at=override_at(o.end, zones[o.site]))
                    for o in document.overrides)
    report.add("shifts", len(document.shifts))
    report.add("overrides", len(document.overrides))
    session.commit()
    return report


def _import_home(session: Session, home: HomeSection) -> None:
    row = session.get(Home, home.id)
    if row is None:
        row = Home(id=home.id, resident_name="")
        session.add(row)
    row.site_id, row.address = home.site, home.address
    row.doctor_notify = list(home.resident.doctor_notify)
    row.rules, row.active = rule_overrides(home.resident.rules), True
    session.flush()
    # The file holds one resident per home: update the home's first, or enrol one.
    resident = session.scalars(select(Resident).where(Resident.home_id == home.id)
                               .order_by(Resident.active.desc(), Resident.id)).first()
    if resident is None:
        resident = Resident(id=new_id("r"), home_id=home.id, care_categories=[], consent={})
        session.add(resident)
    resident.name, resident.active = home.resident.name, True
    session.flush()
    refresh_resident_name(session, home.id)
    # Family contacts and the doctor are paged like staff, for their home only.
    for row_ in home_contacts(home):
        existing = session.get(Caregiver, row_.id)
        if existing is None:
            session.add(row_)
        else:
            existing.name, existing.site_id, existing.role = row_.name, row_.site_id, row_.role
            existing.notify, existing.home_id, existing.active = row_.notify, home.id, True
            existing.language = row_.language


def home_contacts(home: HomeSection) -> list[Caregiver]:
    """Return the rows of a home's family contacts and doctor (paged for that home only)."""
    rows = [Caregiver(id=f"fam-{home.id}-{i + 1}", name=contact.name, site_id=home.site,
                      role="family", notify=list(contact.notify), active=True,
                      home_id=home.id, phone="", language=contact.language)
            for i, contact in enumerate(home.resident.family)]
    if home.resident.doctor_notify:
        rows.append(Caregiver(id=f"doc-{home.id}", name=f"Doctor of {home.resident.name}",
                              site_id=home.site, role="doctor",
                              notify=list(home.resident.doctor_notify), active=True,
                              home_id=home.id, phone=""))
    return rows
