"""People who log in and the tokens that exist (administrators only).

Passwords and tokens are shown once, in the answer that makes them; lists never hold them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import accounts
from hub.db import Site
from hub.web.auth import Principal, require
from hub.web.deps import ClockDep, SessionDep

router = APIRouter(tags=["users and tokens"])

Admin = Annotated[Principal, require("admin")]
USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
SiteId = Annotated[str, Field(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=10000)]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME, description="Unique user name.")
    role: Literal["admin", "desk", "caregiver", "family", "integration"]
    person: str | None = Field(None, min_length=1, max_length=64,
                               description="The registry person (caregivers row) they act as.")
    sites: list[SiteId] = Field(default_factory=list, max_length=100,
                                description="Caregivers, integrations: stations served "
                                         "(a caregiver's own station when empty).")
    home: str | None = Field(None, max_length=64, description="Family: the resident's home.")


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=200, description="What uses the token.")
    role: Literal["integration"] = Field("integration", description="What it may do: read.")
    sites: list[SiteId] = Field(default_factory=list, max_length=100,
                                description="Stations it sees; empty: every home.")
    expires_in_days: float | None = Field(None, gt=0, le=3660,
                                          description="Lifetime; none: until revoked.")


def _user(session: SessionDep, user_id: str) -> accounts.User:
    user = session.get(accounts.User, user_id) if len(user_id) <= 40 else None
    if user is None:
        raise HTTPException(404, f"no user {user_id}")
    return user


def _known_sites(session: SessionDep, sites: list[str]) -> None:
    unknown = set(sites) - set(session.scalars(select(Site.id)))
    if unknown:
        raise HTTPException(422, f"unknown site(s): {', '.join(sorted(unknown))}")


@router.get("/users")
async def list_users(principal: Admin, session: SessionDep,
                     limit: Limit = 1000) -> list[dict[str, Any]]:
    """List the users by name (never their passwords)."""
    return [u.as_dict() for u in session.scalars(
        select(accounts.User).order_by(accounts.User.username).limit(limit))]


@router.post("/users", status_code=201)
async def create_user(body: NewUser, principal: Admin, session: SessionDep,
                      clock: ClockDep) -> dict[str, Any]:
    """Create a user; the answer holds their one-time password, shown this once."""
    _known_sites(session, body.sites)
    try:
        user, password = accounts.create_user(
            session, username=body.username, role=body.role, now=clock.now(),
            person_id=body.person, sites=body.sites, home=body.home)
    except accounts.AccountError as exc:
        status = 409 if "exists" in str(exc) else 422
        raise HTTPException(status, str(exc)) from exc
    session.commit()
    return {**user.as_dict(), "password": password}


@router.post("/users/{user_id}/deactivate")
async def deactivate_user(user_id: str, principal: Admin, session: SessionDep,
                          clock: ClockDep) -> dict[str, Any]:
    """Deactivate a user and end all their logins (the last active admin stays)."""
    user = _user(session, user_id)
    admins = session.scalars(select(accounts.User.id).where(
        accounts.User.role == "admin", accounts.User.active)).all()
    if user.role == "admin" and user.active and len(admins) <= 1:
        raise HTTPException(409, "this is the last active admin")
    user.active = False
    accounts.revoke_user_tokens(session, user.id, clock.now())
    session.commit()
    return user.as_dict()


@router.post("/users/{user_id}/reset-password")
async def reset_password(user_id: str, principal: Admin, session: SessionDep,
                         clock: ClockDep) -> dict[str, Any]:
    """Give a user a new one-time password (shown this once) and end their logins."""
    user = _user(session, user_id)
    password = accounts.reset_password(session, user, clock.now())
    session.commit()
    return {**user.as_dict(), "password": password}


@router.get("/tokens")
async def list_tokens(principal: Admin, session: SessionDep,
                      kind: Literal["session", "device", "integration"] | None = None,
                      revoked: Annotated[bool, Query(description="Include ended ones.")] = False,
                      limit: Limit = 1000) -> list[dict[str, Any]]:
    """List tokens and device logins (never their secrets), newest first."""
    query = select(accounts.AccessToken).order_by(accounts.AccessToken.created_at.desc())
    if kind is not None:
        query = query.where(accounts.AccessToken.kind == kind)
    if not revoked:
        query = query.where(accounts.AccessToken.revoked_at.is_(None))
    return [t.as_dict() for t in session.scalars(query.limit(limit))]


@router.post("/tokens", status_code=201)
async def issue_token(body: NewToken, principal: Admin, session: SessionDep,
                      clock: ClockDep) -> dict[str, Any]:
    """Issue an API token for an integration; the answer holds it, shown this once."""
    _known_sites(session, body.sites)
    ttl = body.expires_in_days * 86400 if body.expires_in_days else None
    row, text = accounts.issue_token(session, kind="integration", now=clock.now(), ttl_s=ttl,
                                     role=body.role, sites=body.sites, label=body.label)
    session.commit()
    return {**row.as_dict(), "token": text}


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: str, principal: Admin, session: SessionDep,
                       clock: ClockDep) -> dict[str, Any]:
    """End a token or a phone's device login at once."""
    row = session.get(accounts.AccessToken, token_id) if len(token_id) <= 40 else None
    if row is None:
        raise HTTPException(404, f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        session.commit()
    return row.as_dict()
