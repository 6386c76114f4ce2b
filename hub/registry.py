"""The registry of sites, homes, residents and caregivers, kept in step with the config."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.config import HubConfig
from hub.db import Caregiver, Home, Site


def sync_registry(session: Session, config: HubConfig) -> None:
    """Upsert the config's sites, homes and caregivers; deactivate caregivers it dropped.

    Homes and sites that leave the config stay in the database: their history (alerts,
    events, audit) must remain readable.
    """
    for site in config.sites:
        assert site.ack_target_s is not None and site.arrival_target_s is not None
        session.merge(Site(id=site.id, name=site.name, kind=site.kind, timezone=site.timezone,
                           ack_target_s=site.ack_target_s,
                           arrival_target_s=site.arrival_target_s))
    session.flush()
    for home in config.homes:
        session.merge(Home(id=home.id, site_id=home.site, address=home.address,
                           resident_name=home.resident.name,
                           doctor_notify=list(home.resident.doctor_notify)))
    known = {c.id for c in config.caregivers}
    for caregiver in config.caregivers:
        session.merge(Caregiver(id=caregiver.id, name=caregiver.name, site_id=caregiver.site,
                                role=caregiver.role, notify=list(caregiver.notify), active=True))
    for home in config.homes:
        # Family contacts and the doctor are paged like staff, for their home only.
        for i, contact in enumerate(home.resident.family):
            row_id = f"fam-{home.id}-{i + 1}"
            known.add(row_id)
            session.merge(Caregiver(id=row_id, name=contact.name, site_id=home.site,
                                    role="family", notify=list(contact.notify), active=True,
                                    home_id=home.id))
        if home.resident.doctor_notify:
            row_id = f"doc-{home.id}"
            known.add(row_id)
            session.merge(Caregiver(id=row_id, name=f"Doctor of {home.resident.name}",
                                    site_id=home.site, role="doctor",
                                    notify=list(home.resident.doctor_notify), active=True,
                                    home_id=home.id))
    for row in session.scalars(select(Caregiver)):
        if row.id not in known:
            row.active = False
    session.commit()
