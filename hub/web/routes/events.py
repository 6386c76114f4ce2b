"""The events the hub received."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.db import EventRecord
from hub.web.auth import Principal, require
from hub.web.deps import SessionDep
from hub.web.scope import home_filter

router = APIRouter(prefix="/events", tags=["events"])


@router.get("")
async def list_events(principal: Annotated[Principal, require(
                          "admin", "desk", "caregiver", "family", "integration")],
                      session: SessionDep,
                      home: Annotated[str | None, Query(max_length=64)] = None,
                      limit: Annotated[int, Query(ge=1, le=5000)] = 500
                      ) -> list[dict[str, Any]]:
    """List the received events the caller sees, in the order the hub received them."""
    query = (select(EventRecord).where(home_filter(session, principal, EventRecord.home))
             .order_by(EventRecord.received_order.desc()).limit(limit))
    if home:
        query = query.where(EventRecord.home == home)
    rows = list(session.scalars(query))
    return [{"id": r.id, "home": r.home, "device": r.device, "kind": r.kind,
             "severity": r.severity, "seq": r.seq, "t": r.t, "data": r.data,
             "received_at": r.received_at, "alert_id": r.alert_id} for r in reversed(rows)]
