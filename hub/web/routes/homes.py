"""The registered homes the caller sees, and the state of their agents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.db import AgentState, Home
from hub.web.auth import Principal, require
from hub.web.deps import MAX_ID, SessionDep
from hub.web.scope import home_filter

router = APIRouter(prefix="/homes", tags=["homes"])


@router.get("")
async def list_homes(
    principal: Annotated[Principal, require("admin", "desk", "caregiver", "family",
                                            "integration")],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=10000)] = 5000,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[dict[str, Any]]:
    """List the homes the caller sees (by id), with their agents' state."""
    agents = {a.home: a for a in session.scalars(
        select(AgentState).where(home_filter(session, principal, AgentState.home)))}
    return [{"id": h.id, "site": h.site_id, "address": h.address,
             "resident": h.resident_name,
             "agent": agents[h.id].state if h.id in agents else "unknown"}
            for h in session.scalars(select(Home).where(home_filter(session, principal, Home.id))
                                     .order_by(Home.id).limit(limit).offset(offset))]
