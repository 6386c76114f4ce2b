"""Which rule turns an event kind into an alert, and which site answers a home.

The defaults are `bedwatch.kinds.RULES`; the organisation (the service's settings), the site
(`Site.rules`) and the resident (`Home.rules`) can each override them, in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from bedwatch.kinds import RULES, AlertRule
from hub.config import ServiceSettings
from hub.db import Home, Site


def with_override(rule: AlertRule | None, changes: Mapping[str, Any] | None) -> AlertRule | None:
    """Return `rule` with an override's fields (keys of AlertRule) applied on top."""
    if changes is None:
        return rule
    base = rule or AlertRule(changes.get("severity") or "low")
    # Saying anything about a kind that is off by default (bed_exit) means wanting it.
    return replace(base, **{"enabled": True, **changes})


def serving_site(session: Session, home: str) -> Site | None:
    """Return the active site that answers a registered home's alerts (None: the desk does)."""
    row = session.get(Home, home)
    if row is None:
        return None
    site = session.get(Site, row.site_id)
    return site if site is not None and site.active else None


class Rules:
    """Look up alert rules in three layers over the defaults."""

    def __init__(self, config: ServiceSettings) -> None:
        self.config = config

    def rule_for(self, session: Session, home: str, kind: str) -> AlertRule | None:
        """Return the rule for an event kind in a home: organisation, site, resident layers."""
        org = self.config.rules.get(kind)
        rule = with_override(RULES.get(kind),
                             org.model_dump(exclude_none=True) if org is not None else None)
        row = session.get(Home, home)
        if row is not None and row.active:
            site = session.get(Site, row.site_id)
            if site is not None:
                rule = with_override(rule, site.rules.get(kind))
            rule = with_override(rule, row.rules.get(kind))
        return rule if rule is not None and rule.enabled else None
