"""The registered homes and the state of their agents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from hub.db import AgentState, Home
from hub.web.deps import SessionDep

router = APIRouter(prefix="/homes", tags=["homes"])


@router.get("")
async def list_homes(session: SessionDep) -> list[dict[str, Any]]:
    agents = {a.home: a for a in session.scalars(select(AgentState))}
    return [{"id": h.id, "site": h.site_id, "address": h.address,
             "resident": h.resident_name,
             "agent": agents[h.id].state if h.id in agents else "unknown"}
            for h in session.scalars(select(Home).order_by(Home.id))]
