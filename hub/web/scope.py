"""What a principal may see: the homes of its stations, its resident's home, or all of them.

Out of scope is a 404 for one row and an omission in a list, so that nobody learns that
another station's resident or alert exists.
"""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.db import Alert, Home
from hub.registry import site_of
from hub.web.actions import alert_or_404
from hub.web.auth import Principal


def visible_homes(session: Session, principal: Principal) -> set[str] | None:
    """Return the ids of the homes `principal` sees; None when it sees every home."""
    if principal.sees_all:
        return None
    if principal.role == "family":
        return set(principal.homes)
    return set(session.scalars(select(Home.id).where(Home.site_id.in_(principal.sites))))


def home_filter(session: Session, principal: Principal,
                column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]
                ) -> ColumnElement[bool]:
    """Return a WHERE clause keeping the rows of `column` (a home id) that `principal` sees."""
    homes = visible_homes(session, principal)
    return true() if homes is None else column.in_(sorted(homes))


def sees_home(session: Session, principal: Principal, home_id: str) -> bool:
    """Return True when `principal` sees home `home_id` (registered or not)."""
    return principal.sees_home(home_id, site_of(session, home_id))


def visible_alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    """Return an alert the principal sees; 404 for one that is missing or out of scope."""
    alert = alert_or_404(session, alert_id)
    if not sees_home(session, principal, alert.home):
        raise HTTPException(404, f"no alert #{alert_id}")
    return alert
