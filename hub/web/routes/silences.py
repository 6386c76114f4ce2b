"""Silences through the REST API: a person on site holds a home's pages, by name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from hub.db import Home
from hub.web.actions import NamedSilenceRequest, named_person, silence_home
from hub.web.deps import EngineDep, SessionDep

router = APIRouter(prefix="/homes", tags=["silences"])


@router.post("/{home_id}/silence")
async def silence(home_id: str, body: NamedSilenceRequest, session: SessionDep,
                  engine: EngineDep) -> dict[str, Any]:
    """Hold a home's pages for a stated time while a caregiver is there (audited)."""
    if session.get(Home, home_id) is None:
        raise HTTPException(404, f"no home {home_id}")
    named_person(session, body.caregiver, "silence", home_id)
    return silence_home(engine, home_id, body.caregiver, body)
