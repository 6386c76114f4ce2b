"""Who is asking: the principal behind a request, and what each route requires of it.

Every route of the REST API declares the roles it serves with `require(...)`; the principal
it is given says which sites and homes its caller may see, so a route scopes its query with
`principal.sees_site(...)` / `principal.sees_home(...)` and answers 404 for what is out of
scope (never 403: a caller must not learn that another station's resident exists).

Roles (docs/access.md):
- admin: the organisation's administrators; everything, including people and tokens.
- desk: the monitoring desk; every home and alert, the registry read-only.
- caregiver: staff of one or more stations; their stations' homes, residents and alerts.
- family: one resident, read only.
- integration: an API token for another system; read-only, scoped like its issuer says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from hub import accounts
from hub.alerts import Clock
from hub.db import Caregiver

Role = Literal["admin", "desk", "caregiver", "family", "integration"]
ROLES: tuple[Role, ...] = ("admin", "desk", "caregiver", "family", "integration")
# Roles that see every home of the organisation.
FLEET_ROLES = frozenset({"admin", "desk"})


@dataclass(frozen=True)
class Principal:
    """The caller of one request, as its credentials say."""

    id: str  # the user or token id: the audit's actor
    role: Role
    person_id: str | None = None  # the registry person (caregivers row) this login acts as
    sites: frozenset[str] = frozenset()  # caregiver: the stations served
    homes: frozenset[str] = frozenset()  # family: the resident's home
    all_homes: bool = False  # admin, desk, and integration tokens issued for the fleet
    token_id: str | None = None  # the access token presented (logout revokes it)
    must_change_password: bool = False  # a one-time password: only a new password is served

    @property
    def sees_all(self) -> bool:
        """True when the caller sees every home of the organisation (no scope to apply)."""
        return self.all_homes or self.role in FLEET_ROLES

    def sees_site(self, site_id: str | None) -> bool:
        """Return True when the caller may see what belongs to station `site_id`."""
        if self.sees_all:
            return True
        return site_id is not None and site_id in self.sites

    def sees_home(self, home_id: str, site_id: str | None) -> bool:
        """Return True when the caller may see home `home_id` (served by `site_id`)."""
        if self.sees_all:
            return True
        if self.role == "family":
            return home_id in self.homes
        return self.sees_site(site_id)


async def get_principal(request: Request) -> Principal:
    """Return the principal of the request's credentials; 401 without valid ones."""
    resolve: Callable[[Request], Awaitable[Principal | None]] | None = getattr(
        request.app.state, "resolve_principal", None)
    principal = await resolve(request) if resolve is not None else None
    if principal is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Any:
    """Return a dependency that gives the principal when its role is one of `roles`; else 403.

    Use as `principal: Annotated[Principal, require("admin", "desk")]`.
    """
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.must_change_password:
            raise HTTPException(403, "change your one-time password first: "
                                     "POST /api/auth/password")
        if principal.role not in allowed:
            raise HTTPException(403, f"this needs one of the roles {sorted(allowed)}")
        return principal

    check.roles = allowed  # type: ignore[attr-defined]  # read by the route × role test
    return Depends(check)


def bearer(request: Request) -> str | None:
    """Return the token of an `Authorization: Bearer` header; None without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_principal(session: Session, text: str, now: float) -> Principal | None:
    """Return who a live bearer token speaks for; None when it, its user or person is gone.

    Device logins are not bearer tokens: they open the caregiver's page only (a cookie).
    """
    row = accounts.find_token(session, text)
    if row is None or not row.live(now) or row.kind == "device":
        return None
    if row.kind == "integration":
        if accounts.note_use(row, now):
            session.commit()
        scope = frozenset(row.sites or [])
        return Principal(id=row.id, role="integration", sites=scope, all_homes=not scope,
                         token_id=row.id)
    user = session.get(accounts.User, row.user_id) if row.user_id else None
    if user is None or not user.active:
        return None
    return user_principal(session, user, row.id)


def user_principal(session: Session, user: accounts.User,
                   token_id: str | None) -> Principal | None:
    """Return the principal of a user: their role, person and scope from the registry."""
    person = session.get(Caregiver, user.person_id) if user.person_id else None
    if user.person_id and (person is None or not person.active):
        return None  # the person left the organisation: so does their login
    role: Role = user.role  # type: ignore[assignment]  # checked when the user was made
    sites = frozenset(user.sites or [])
    if role == "caregiver" and not sites and person is not None:
        sites = frozenset({person.site_id})
    homes = frozenset({user.home}) if role == "family" and user.home else frozenset()
    return Principal(id=user.id, role=role, person_id=user.person_id, sites=sites,
                     homes=homes, all_homes=role in FLEET_ROLES or (
                         role == "integration" and not sites),
                     token_id=token_id, must_change_password=user.must_change_password)


def make_resolver(sessions: sessionmaker[Session], clock: Clock
                  ) -> Callable[[Request], Awaitable[Principal | None]]:
    """Return the app's `resolve_principal`: the bearer token's principal from the store."""

    async def resolve(request: Request) -> Principal | None:
        text = bearer(request)
        if text is None:
            return None
        with sessions() as session:
            return token_principal(session, text, clock.now())

    return resolve
