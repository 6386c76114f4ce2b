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
    for row in session.scalars(select(Caregiver)):
        if row.id not in known:
            row.active = False
    session.commit()
