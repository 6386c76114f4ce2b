"""The web app's outer guard: bounded requests, and never an internal detail in an answer.

`LimitsMiddleware` sits outside every route. It answers, before any route runs:
- 413 to a body larger than `max_body_bytes`: at once when `Content-Length` says so, and a
  body sent without one (chunked) is counted as it arrives and cut at the limit;
- 414 to a path and query longer than `max_url_bytes`;
- 431 to more than `max_headers` headers, or headers larger than `max_header_bytes` in all;
- 400 to a NUL character (U+0000) in the path, the query or the body (raw, `%00` in a form,
  `\u0000` in JSON): PostgreSQL cannot store one in text, so it would fail as a 500 later.
And it turns any exception a route let through into a 500 whose body says only that the
hub failed, with a reference to find the logged traceback by; `InternalErrors` counts them
(`hub_internal_errors`, shown by /api/stats).

The API server (uvicorn with h11) refuses a request head still incomplete past 16 KiB (h11's
largest incomplete event: a 400, then it closes), but a head that arrives within one read
reaches the app whatever its size: the limits here are what bound it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # the largest request body (every API body is a small JSON object)
MAX_URL_BYTES = 4096  # path and query string (signed links are about 150 characters)
MAX_HEADERS = 64
MAX_HEADER_BYTES = 8 * 1024  # names and values of all headers together


@dataclass
class InternalErrors:
    """How many requests failed inside the hub (answered 500): `hub_internal_errors`."""

    count: int = 0


class Refused(HTTPException):
    """A request body found unacceptable while it was read (a 4xx)."""


class BodyTooLarge(Refused):
    """A request body grew past the limit while it was read (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


NUL_REFUSED = "text must not contain a NUL character (U+0000)"
# A JSON escape of NUL whose backslash is not itself escaped (preceded by an even run of them).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _nul_in(body: bytes, media_type: bytes) -> bool:
    """Return True when a request body carries a NUL character, in its own or an escaped form."""
    if b"\x00" in body:
        return True
    if media_type.startswith(b"application/x-www-form-urlencoded"):
        return b"%00" in body
    return media_type.startswith(b"application/json") and _JSON_NUL.search(body) is not None


@dataclass(frozen=True)
class Limits:
    """The sizes a request may have (see the module's docstring)."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_url_bytes: int = MAX_URL_BYTES
    max_headers: int = MAX_HEADERS
    max_header_bytes: int = MAX_HEADER_BYTES


async def _answer(send: Send, status: int, body: dict[str, str]) -> None:
    content = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": content})


def _refusal(scope: Scope, limits: Limits) -> tuple[int, str] | None:
    """Return the status and reason to refuse a request with before it runs; else None."""
    url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(
        scope.get("query_string", b""))
    if url_bytes > limits.max_url_bytes:
        return 414, f"the URL is longer than {limits.max_url_bytes} bytes"
    url = (scope.get("raw_path") or b"") + b"?" + scope.get("query_string", b"")
    if b"%00" in url or b"\x00" in url or "\x00" in scope["path"]:
        return 400, NUL_REFUSED
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    if len(headers) > limits.max_headers:
        return 431, f"more than {limits.max_headers} headers"
    if sum(len(name) + len(value) for name, value in headers) > limits.max_header_bytes:
        return 431, f"the headers are larger than {limits.max_header_bytes} bytes"
    lengths = [value for name, value in headers if name.lower() == b"content-length"]
    if lengths:
        try:
            declared = int(lengths[0])
        except ValueError:
            return 400, "Content-Length is not a number"
        if declared > limits.max_body_bytes:
            return 413, f"the request body is larger than {limits.max_body_bytes} bytes"
    return None


class LimitsMiddleware:
    """Refuse oversized requests and hide internal failures (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, limits: Limits, errors: InternalErrors) -> None:
        self.app = app
        self.limits = limits
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _refusal(scope, self.limits)
        if refusal is not None:
            await _answer(send, refusal[0], {"detail": refusal[1]})
            return
        limit, body, started = self.limits.max_body_bytes, bytearray(), False
        media_type = next((v.lower() for k, v in scope["headers"] if k.lower() == b"content-type"),
                          b"")

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))  # at most the limit: it is refused beyond
                if len(body) > limit:
                    raise BodyTooLarge(limit)
                if not message.get("more_body", False) and _nul_in(bytes(body), media_type):
                    raise Refused(400, NUL_REFUSED)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except Refused as exc:  # read outside a route, which would have answered it
            if started:
                raise
            await _answer(send, exc.status_code, {"detail": str(exc.detail)})
        except Exception:
            self.errors.count += 1
            ref = secrets.token_hex(4)
            log.exception("internal error %s in %s %s", ref, scope["method"], scope["path"])
            if started:  # the answer is on its way: the server can only cut it short
                raise
            await _answer(send, 500, {"detail": "internal error", "ref": ref})


def install_limits(app: FastAPI, limits: Limits | None = None) -> None:
    """Guard `app` with `LimitsMiddleware`; its count of internal errors is on `app.state`."""
    app.state.internal_errors = InternalErrors()
    app.add_middleware(LimitsMiddleware, limits=limits or Limits(),
                       errors=app.state.internal_errors)


async def get_internal_errors(request: Request) -> InternalErrors:
    """Return the app's count of internal errors."""
    errors: InternalErrors = request.app.state.internal_errors
    return errors


InternalErrorsDep = Annotated[InternalErrors, Depends(get_internal_errors)]
