"""Responses that never fail on text the hub was given."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def clean_text(value: Any) -> Any:
    """Return `value` with every string made encodable as UTF-8 (lone surrogates escaped).

    Rows written by older versions may hold text that no response could otherwise carry.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_text(v) for v in value]
    return value


class CleanJSONResponse(JSONResponse):
    """JSON that never fails on text it was given: bad text is escaped, not a 500."""

    def render(self, content: Any) -> bytes:
        return super().render(clean_text(content))


def bytes_text(payload: bytes) -> str:
    """Return bytes as text, with what is not UTF-8 escaped (\\xNN) so it can be read."""
    return payload.decode("utf-8", "backslashreplace")


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """Answer a request the models refuse: 422 with where and why, never what was sent.

    FastAPI's own answer echoes each bad value (`input`); a body can hold a password, a
    resident's notes or a channel URL with its key, which must not come back in a response
    (or in whatever logs the response).
    """
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in error.items() if k not in ("input", "url")}
              for error in exc.errors()]
    return CleanJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)
