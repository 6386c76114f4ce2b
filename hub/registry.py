"""The registry of sites, homes, residents, caregivers and the rota, written from the config
into the database rows the alert engine reads, and who may see and act on which alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.config import HomeSection, HubConfig, OverrideSection, RuleOverride, SiteSection
from hub.db import Caregiver, Home, RotaOverride, RotaShift, Site

# The desk and the technicians belong to the organisation, not to a site: their rows point
# at this pseudo-site (site ids match [a-z0-9]…, so it cannot clash with a real one).
ORG_SITE_ID = "_org"
# Alerts about the hub itself (broker, InfluxDB, ingest, pager) belong to no home.
HUB_HOME = ""

STAFF_ROLES = frozenset({"oncall", "backup", "supervisor"})
ACTIONS = ("view", "ack", "on_site", "resolve", "silence")
# What each role may do with the alerts it can see (docs/alerting.md, "Who may act").
PERMISSIONS: dict[str, frozenset[str]] = {
    **{role: frozenset(ACTIONS) for role in STAFF_ROLES},
    # Family may say "I am taking it"; closing or silencing is the organisation's call.
    "family": frozenset({"view", "ack"}),
    # Doctors are told, they do not go: an acknowledgement would stop the caregivers' pages.
    "doctor": frozenset({"view"}),
    # The desk answers remotely: it never stands at the door, so never "on site".
    "desk": frozenset({"view", "ack", "resolve", "silence"}),
    "technician": frozenset({"view", "ack", "resolve"}),
}


def can_see(person: Caregiver, alert_home: str, home_site: str | None) -> bool:
    """Return True when `person` may see alerts of `alert_home` (served by `home_site`).

    `home_site` is None for a home the registry does not know and for the hub itself.
    """
    if not person.active:
        return False
    if person.role == "desk":
        return True
    if person.role == "technician":
        return alert_home == HUB_HOME
    if alert_home == HUB_HOME or home_site is None:
        return False
    if person.home_id is not None:  # family and doctors: their own home only
        return alert_home == person.home_id
    return person.role in STAFF_ROLES and home_site == person.site_id


def may(person: Caregiver, action: str, alert_home: str, home_site: str | None) -> bool:
    """Return True when `person` may do `action` (one of ACTIONS) on alerts of a home."""
    return action in PERMISSIONS.get(person.role, frozenset()) and \
        can_see(person, alert_home, home_site)


def allowed_actions(person: Caregiver, alert_home: str, home_site: str | None) -> list[str]:
    """Return the actions `person` may take on alerts of a home, in ACTIONS order."""
    return [a for a in ACTIONS if may(person, a, alert_home, home_site)]


def sync_registry(session: Session, config: HubConfig) -> None:
    """Write the config's registry into the rows the engine reads; retire what it dropped.

    Sites, homes and caregivers are upserted; the rota (shifts and overrides) is replaced.
    Sites, homes and people that leave the config stay in the database, marked inactive:
    their history (alerts, events, audit) must remain readable.
    """
    org = config.organisation
    session.merge(Site(id=ORG_SITE_ID, name="Organisation: desk and technicians", kind="urban",
                       timezone=org.timezone, ack_target_s=org.reminder_every_s,
                       arrival_target_s=org.reminder_every_s, escalation=[],
                       reminder_every_s=org.reminder_every_s, rules={}, active=True))
    for site in config.sites:
        session.merge(site_row(site))
    session.flush()
    for home in config.homes:
        session.merge(home_row(home))
    known = {c.id for c in config.caregivers}
    for caregiver in config.caregivers:
        session.merge(Caregiver(id=caregiver.id, name=caregiver.name, site_id=caregiver.site,
                                role=caregiver.role, notify=list(caregiver.notify), active=True,
                                home_id=None))
    for role, people in (("desk", config.desk), ("technician", config.technicians)):
        for person in people:
            known.add(person.id)
            session.merge(Caregiver(id=person.id, name=person.name, site_id=ORG_SITE_ID,
                                    role=role, notify=list(person.notify), active=True,
                                    home_id=None))
    for home in config.homes:
        # Family contacts and the doctor are paged like staff, for their home only.
        for row in home_contacts(home):
            known.add(row.id)
            session.merge(row)
    for row in session.scalars(select(Caregiver)):
        if row.id not in known:
            row.active = False
    sites = {s.id for s in config.sites} | {ORG_SITE_ID}
    for place in session.scalars(select(Site)):
        place.active = place.id in sites
    homes = {h.id for h in config.homes}
    for dwelling in session.scalars(select(Home)):
        dwelling.active = dwelling.id in homes
    session.flush()
    session.execute(delete(RotaShift))
    session.execute(delete(RotaOverride))
    zones = {s.id: ZoneInfo(s.timezone) for s in config.sites}
    session.add_all(RotaShift(site_id=s.site, caregiver_id=s.caregiver, role=s.role,
                              days=list(s.days), start=s.start, end=s.end)
                    for s in config.shifts)
    session.add_all(override_row(o, zones[o.site]) for o in config.overrides)
    session.commit()


def site_row(site: SiteSection) -> Site:
    """Return the row of a validated site: targets, chain, reminders and rule overrides."""
    assert site.ack_target_s is not None and site.arrival_target_s is not None
    return Site(id=site.id, name=site.name, kind=site.kind, timezone=site.timezone,
                ack_target_s=site.ack_target_s, arrival_target_s=site.arrival_target_s,
                escalation=[step.model_dump() for step in site.escalation],
                reminder_every_s=site.reminder_every_s, rules=_rules(site.rules), active=True)


def home_row(home: HomeSection) -> Home:
    """Return the row of a validated home, with its resident's rule overrides."""
    return Home(id=home.id, site_id=home.site, address=home.address,
                resident_name=home.resident.name,
                doctor_notify=list(home.resident.doctor_notify),
                rules=_rules(home.resident.rules), active=True)


def home_contacts(home: HomeSection) -> list[Caregiver]:
    """Return the rows of a home's family contacts and doctor (paged for that home only)."""
    rows = [Caregiver(id=f"fam-{home.id}-{i + 1}", name=contact.name, site_id=home.site,
                      role="family", notify=list(contact.notify), active=True, home_id=home.id)
            for i, contact in enumerate(home.resident.family)]
    if home.resident.doctor_notify:
        rows.append(Caregiver(id=f"doc-{home.id}", name=f"Doctor of {home.resident.name}",
                              site_id=home.site, role="doctor",
                              notify=list(home.resident.doctor_notify), active=True,
                              home_id=home.id))
    return rows


def override_row(override: OverrideSection, zone: ZoneInfo) -> RotaOverride:
    """Return the row of a rota override; a time without an offset is the site's local time."""
    def at(value: datetime) -> float:
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).timestamp()

    return RotaOverride(site_id=override.site, caregiver_id=override.caregiver,
                        role=override.role, start_at=at(override.start), end_at=at(override.end))


def _rules(overrides: dict[str, RuleOverride]) -> dict[str, Any]:
    # Only what an override says: an absent key leaves the layer below as it is.
    return {kind: o.model_dump(exclude_none=True) for kind, o in overrides.items()}


def site_of(session: Session, home: str) -> str | None:
    """Return the site that serves a registered home; None for the hub or an unknown home."""
    if home == HUB_HOME:
        return None
    row = session.get(Home, home)
    return row.site_id if row is not None else None
