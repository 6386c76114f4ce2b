"""Dead letters: messages ingest could not store, kept with their bytes."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from hub.db import DeadLetter
from hub.web.auth import Principal, require
from hub.web.deps import MAX_ID, SessionDep
from hub.web.responses import bytes_text

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


@router.get("")
async def dead_letters(principal: Annotated[Principal, require("admin", "desk")],
                       session: SessionDep,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                       offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
                       home: Annotated[str | None, Query(max_length=64)] = None
                       ) -> dict[str, Any]:
    """List messages ingest could not store, newest first, with their bytes."""
    query = select(DeadLetter)
    count = select(func.count()).select_from(DeadLetter)
    if home:
        query, count = query.where(DeadLetter.home == home), count.where(
            DeadLetter.home == home)
    total = session.scalar(count) or 0
    rows = list(session.scalars(query.order_by(DeadLetter.id.desc())
                                .limit(limit).offset(offset)))
    return {"total": total, "limit": limit, "offset": offset, "items": [
        {"id": r.id, "at": r.at, "topic": r.topic, "home": r.home, "error": r.error,
         "attempts": r.attempts, "payload_text": bytes_text(r.payload),
         "payload_base64": base64.b64encode(r.payload).decode("ascii")} for r in rows]}
