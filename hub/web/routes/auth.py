"""Logging in (OAuth2 password flow), out, who am I, and changing one's password."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub import accounts
from hub.web.auth import CurrentPrincipal, user_principal
from hub.web.deps import ClockDep, SessionDep

router = APIRouter(prefix="/auth", tags=["logins"])

# Failed logins allowed per user name and per client address within the window.
LOGIN_FAILURES = 5
LOGIN_WINDOW_S = 300.0


def login_throttle(request: Request) -> accounts.Throttle:
    throttle: accounts.Throttle = request.app.state.login_throttle
    return throttle


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_login(request: Request, session: Session, username: str, password: str,
                now: float) -> accounts.User:
    """Return the user of a right user name and password; else 401, or 429 when throttled.

    An unknown user and a wrong password get the same answer, in the same time.
    """
    throttle, counters = login_throttle(request), request.app.state.login_counters
    keys = [f"user:{username.strip().lower()}", f"addr:{client_address(request)}"]
    wait = throttle.wait_s(keys, now)
    if wait > 0:
        counters["limited"] += 1
        raise HTTPException(429, "too many failed logins; try again later",
                            headers={"Retry-After": str(max(1, math.ceil(wait)))})
    user = accounts.authenticate(session, username, password)
    if user is None or user_principal(session, user, None) is None:
        throttle.note(keys, now)
        counters["failed"] += 1
        raise HTTPException(401, "wrong user name or password",
                            headers={"WWW-Authenticate": "Bearer"})
    throttle.forget(keys[0])
    counters["ok"] += 1
    return user


class LoginForm(BaseModel):
    """The OAuth2 password grant (RFC 6749 §4.3), as a form."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    grant_type: Literal["password"] | None = None
    scope: str = Field("", max_length=200, description="Ignored: a login has its role.")
    client_id: str | None = Field(None, max_length=200, description="Ignored.")
    client_secret: str | None = Field(None, max_length=200, description="Ignored.")


@router.post("/token")
async def login(form: Annotated[LoginForm, Form()], request: Request,
                session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    """Log in with a user name and password; answer a short-lived bearer token.

    A user with a one-time password gets a token that only changes the password.
    """
    now = clock.now()
    user = check_login(request, session, form.username, form.password, now)
    _, token = accounts.issue_token(session, kind="session", now=now,
                                    ttl_s=accounts.SESSION_TTL_S, user_id=user.id,
                                    label=request.headers.get("user-agent", "")[:120])
    session.commit()
    return {"access_token": token, "token_type": "bearer",
            "expires_in": int(accounts.SESSION_TTL_S),
            "must_change_password": user.must_change_password}


@router.post("/logout", status_code=204)
async def logout(principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> Response:
    """End the login of the token presented."""
    row = session.get(accounts.AccessToken, principal.token_id) if principal.token_id else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        session.commit()
    return Response(status_code=204)


@router.get("/me")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    """Return who the token speaks for: role, person and what they see."""
    return {"id": principal.id, "role": principal.role, "person": principal.person_id,
            "sites": sorted(principal.sites), "homes": sorted(principal.homes),
            "all_homes": principal.all_homes,
            "must_change_password": principal.must_change_password}


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=200,
                                  description="The password (or one-time password) now.")
    new_password: str = Field(min_length=accounts.MIN_PASSWORD, max_length=200,
                              description=f"At least {accounts.MIN_PASSWORD} characters.")


@router.post("/password", status_code=204)
async def change_password(body: PasswordChange, principal: CurrentPrincipal, request: Request,
                          session: SessionDep, clock: ClockDep) -> Response:
    """Change one's own password; every other login of the user ends."""
    user = session.get(accounts.User, principal.id)
    if user is None:
        raise HTTPException(403, "an API token has no password")
    now = clock.now()
    try:
        check_login(request, session, user.username, body.current_password, now)
    except HTTPException as exc:
        if exc.status_code == 401:  # this caller is logged in: their old password is wrong
            raise HTTPException(403, "the current password is wrong") from exc
        raise
    if body.new_password == body.current_password:
        raise HTTPException(422, "choose a new password, not the one you have")
    try:
        accounts.set_password(session, user, body.new_password, now)
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    accounts.revoke_user_tokens(session, user.id, now, keep=principal.token_id)
    session.commit()
    return Response(status_code=204)
