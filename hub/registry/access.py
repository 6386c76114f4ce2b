"""Who may see and act on which alert (docs/alerting.md, "Who may act"), from the registry rows."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.db import Caregiver, Home

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


def site_of(session: Session, home: str) -> str | None:
    """Return the site that serves a registered home; None for the hub or an unknown home."""
    if home == HUB_HOME:
        return None
    row = session.get(Home, home)
    return row.site_id if row is not None else None
