"""Silences through the REST API: a person on site holds a home's pages, as themselves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException

from hub.db import Home
from hub.web.actions import NamedSilenceRequest, acting_person, silence_home
from hub.web.auth import Principal, require
from hub.web.deps import EngineDep, SessionDep
from hub.web.scope import sees_home

router = APIRouter(prefix="/homes", tags=["silences"])


@router.post("/{home_id}/silence")
async def silence(home_id: str, body: NamedSilenceRequest,
                  principal: Annotated[Principal, require("admin", "desk", "caregiver")],
                  session: SessionDep, engine: EngineDep) -> dict[str, Any]:
    """Hold a home's pages for a stated time while a caregiver is there (audited)."""
    if session.get(Home, home_id) is None or not sees_home(session, principal, home_id):
        raise HTTPException(404, f"no home {home_id}")
    person = acting_person(session, principal, "silence", home_id, body.caregiver)
    return silence_home(engine, home_id, person.id, body)
