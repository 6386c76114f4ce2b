"""The audit trail: who did what to which alert or home, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.db import AuditEntry
from hub.web.auth import Principal, require
from hub.web.deps import MAX_ROW_ID, SessionDep

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
async def audit(principal: Annotated[Principal, require("admin", "desk")], session: SessionDep,
                alert_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
                limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if alert_id is not None:
        query = query.where(AuditEntry.alert_id == alert_id)
    return [{"at": e.at, "actor": e.actor, "action": e.action, "alert_id": e.alert_id,
             "home": e.home, "detail": e.detail} for e in session.scalars(query)]
