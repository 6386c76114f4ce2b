"""What a person may do to an alert or a home, from the REST API and the caregiver's page.

One table from action name to lifecycle step and the permission it needs (the roles behind
the permissions are `hub.registry`'s), one request model per body, and the one way each
action is carried out. The two ways in differ only in how they find who acts: the API's
login acts as its registry person; the page's signed link or phone login is the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.alerts import AlertEngine, TransitionError
from hub.db import Alert, Caregiver, Home
from hub.registry import can_see, may, site_of
from hub.web.auth import Principal
from hub.web.deps import MAX_ROW_ID, ChangeFeed

AlertAction = Literal["ack", "on_site", "resolve"]
Resolution = Literal["real", "false_alarm", "test", "resolved_remotely"]


@dataclass(frozen=True)
class Action:
    """What an action does: the state it moves an alert to, and the permission it needs."""

    to: str | None  # None: the action holds a home's pages, no alert moves
    permission: str  # one of hub.registry.ACTIONS


ACTIONS: dict[str, Action] = {
    "ack": Action(to="acknowledged", permission="ack"),
    "on_site": Action(to="on_site", permission="on_site"),
    "resolve": Action(to="resolved", permission="resolve"),
    "silence": Action(to=None, permission="silence"),
}


class ActionRequest(BaseModel):
    """A caregiver acting on an alert from their page (the link says who)."""

    model_config = ConfigDict(extra="forbid")

    resolution: Resolution | None = Field(None, description="What was found (resolve only).")
    note: str | None = Field(None, max_length=2000, description="Free text (resolve only).")


class NamedActionRequest(ActionRequest):
    """A person acting on an alert through the REST API: the login's person acts."""

    caregiver: str | None = Field(
        None, min_length=1, max_length=64,
        description="Who acts: when given, it must be the login's own person.")


class SilenceRequest(BaseModel):
    """A caregiver on site holding a home's pages, from their page (the link says who)."""

    model_config = ConfigDict(extra="forbid")

    minutes: float = Field(gt=0, description="For how long.")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the audit).")


class NamedSilenceRequest(SilenceRequest):
    """A person holding a home's pages through the REST API: the login's person acts."""

    caregiver: str | None = Field(
        None, min_length=1, max_length=64,
        description="Who silences: when given, it must be the login's own person.")


def alert_or_404(session: Session, alert_id: int, detail: str = "") -> Alert:
    """Return an alert; 404 (with `detail`, or "no alert #id") when there is none."""
    alert = session.get(Alert, alert_id) if 1 <= alert_id <= MAX_ROW_ID else None
    if alert is None:
        raise HTTPException(404, detail or f"no alert #{alert_id}")
    return alert


def acting_person(session: Session, principal: Principal, action: str, home: str,
                  named: str | None) -> Caregiver:
    """Return the login's person when they may do `action` on a home's alerts; else 403.

    Nobody acts as someone else: a `named` person other than the login's own is refused.
    """
    if principal.person_id is None:
        raise HTTPException(403, "this login is not linked to a person of the registry; "
                                 "only a person acts on alerts")
    if named is not None and named != principal.person_id:
        raise HTTPException(403, f"you act as yourself ({principal.person_id}), not as {named}")
    return person_may(session, principal.person_id, action, home)


def person_may(session: Session, person_id: str, action: str, home: str) -> Caregiver:
    """Return the active person `person_id` when they may do `action` here; else 403."""
    person = session.get(Caregiver, person_id)
    if person is None or not person.active:
        raise HTTPException(403, f"{person_id} is not a registered, active person")
    if not may(person, ACTIONS[action].permission, home, site_of(session, home)):
        raise HTTPException(403, f"{person_id} ({person.role}) may not {action} here")
    return person


def check_page_person(session: Session, person: Caregiver, action: str, home_id: str,
                      what: str) -> None:
    """Raise 404 for what a page's person may not see, 403 for what they may not do."""
    home = session.get(Home, home_id)
    site = home.site_id if home is not None else None
    if not can_see(person, home_id, site):
        raise HTTPException(404, f"no {what} for you")
    if not may(person, ACTIONS[action].permission, home_id, site):
        raise HTTPException(403, f"a {person.role} may not {action} here")


def move_alert(engine: AlertEngine, changes: ChangeFeed, alert_id: int, action: AlertAction,
               actor: str, body: ActionRequest) -> Alert:
    """Move a permitted person's alert a step in its lifecycle and tell the live pages.

    422 when a resolution does not say what was found, 409 when the step is not allowed.
    """
    to = ACTIONS[action].to
    assert to is not None
    if to == "resolved" and body.resolution is None:
        raise HTTPException(422, "say what was found to resolve an alert: one of "
                                 f"{', '.join(get_args(Resolution))}")
    try:
        alert = engine.transition(alert_id, to, actor, resolution=body.resolution,
                                  note=body.note)
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from exc
    changes.notify()
    return alert


def silence_home(engine: AlertEngine, home_id: str, actor: str,
                 body: SilenceRequest) -> dict[str, object]:
    """Hold a home's pages for a permitted person (audited); 404 for no such home."""
    try:
        entry = engine.silence(home_id, actor, body.minutes * 60, body.reason)
    except KeyError as exc:
        raise HTTPException(404, f"no home {home_id}") from exc
    except TransitionError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"home": home_id, "until": entry.end, "by": entry.by}
