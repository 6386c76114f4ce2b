"""People who log in and the tokens they hold: users with argon2 password hashes, short-lived
sessions, caregivers' long-lived device logins and API tokens for integrations.

A token is shown once, when it is issued; the database keeps only its SHA-256, so a copy of
the database lets nobody in. There is no default user: `bedwatch hub create-admin` makes the
first one with a one-time password.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db import Base, Caregiver, Home
from hub.registry import STAFF_ROLES

TokenKind = Literal["session", "device", "integration"]
# The roles of hub.web.auth (a test holds the two equal; this module imports nothing web).
ROLE_NAMES = ("admin", "desk", "caregiver", "family", "integration")
SESSION_TTL_S = 30 * 60
DEVICE_TTL_S = 180 * 24 * 3600
MIN_PASSWORD = 10
MAX_THROTTLE_KEYS = 10_000
# A token's text starts with this, so that a leaked one is recognised by secret scanners.
TOKEN_PREFIX = "bw_"

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
# Verified when the user is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A user or token that cannot be made as asked; the message says why."""


class User(Base):
    """Someone who logs in: a role, and the registry person they act as."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # The caregivers row this login acts as (pages, alert actions); staff, desk and family.
    person_id: Mapped[str | None] = mapped_column(ForeignKey("caregivers.id"), nullable=True)
    sites: Mapped[list[str]] = mapped_column(JSON, default=list)  # caregivers, integrations
    home: Mapped[str | None] = mapped_column(String(64), nullable=True)  # family
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    password_changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "role": self.role,
                "person": self.person_id, "sites": list(self.sites or []), "home": self.home,
                "active": self.active, "created_at": self.created_at,
                "password_changed_at": self.password_changed_at,
                "must_change_password": self.must_change_password}


class AccessToken(Base):
    """A bearer token or a device cookie; only its SHA-256 is kept."""

    __tablename__ = "access_tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True,
                                                index=True)
    # A device login belongs to a registry person, who may have no user account.
    person_id: Mapped[str | None] = mapped_column(ForeignKey("caregivers.id"), nullable=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)  # integration tokens
    sites: Mapped[list[str]] = mapped_column(JSON, default=list)  # integration scope; []: all
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    def live(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "user": self.user_id,
                "person": self.person_id, "role": self.role, "sites": list(self.sites or []),
                "label": self.label, "created_at": self.created_at,
                "expires_at": self.expires_at, "revoked_at": self.revoked_at,
                "last_used_at": self.last_used_at}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    """Return a one-time password (about 96 bits) that can be read out over the phone."""
    return "-".join(secrets.token_hex(3) for _ in range(4))


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    if len(username) >= 3 and username.lower() in password.lower():
        raise AccountError("a password must not contain the user name")


def create_user(session: Session, *, username: str, role: str, now: float,
                person_id: str | None = None, sites: list[str] | None = None,
                home: str | None = None) -> tuple[User, str]:
    """Create a user with a one-time password; return the user and that password.

    The person, sites and home are checked against the registry (AccountError otherwise).
    """
    if role not in ROLE_NAMES:
        raise AccountError(f"role must be one of {', '.join(ROLE_NAMES)}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} exists")
    person = session.get(Caregiver, person_id) if person_id else None
    if person_id and person is None:
        raise AccountError(f"no person {person_id!r} in the registry")
    if role == "caregiver" and (person is None or person.role not in STAFF_ROLES):
        raise AccountError("a caregiver's login names their registry person (a staff member)")
    if role == "family":
        home = home or (person.home_id if person is not None else None)
        if home is None or session.get(Home, home) is None:
            raise AccountError("a family login names the resident's home")
    if role == "desk" and person is not None and person.role != "desk":
        raise AccountError(f"{person_id} is not a desk person")
    password = new_password()
    user = User(id=f"usr_{secrets.token_hex(8)}", username=username, role=role,
                password_hash=_hasher.hash(password), person_id=person_id,
                sites=list(sites or []), home=home, active=True, created_at=now,
                must_change_password=True)
    session.add(user)
    session.flush()
    return user, password


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the active user whose password this is; None otherwise, in the same time."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def set_password(session: Session, user: User, password: str, now: float, *,
                 one_time: bool = False) -> None:
    """Set a user's password; a one-time one must be changed at the next login."""
    if not one_time:
        check_password_strength(password, user.username)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = now
    user.must_change_password = one_time


def reset_password(session: Session, user: User, now: float) -> str:
    """Give a user a new one-time password and end their logins; return the password."""
    password = new_password()
    set_password(session, user, password, now, one_time=True)
    revoke_user_tokens(session, user.id, now)
    return password


def issue_token(session: Session, *, kind: TokenKind, now: float, ttl_s: float | None,
                user_id: str | None = None, person_id: str | None = None,
                role: str | None = None, sites: list[str] | None = None,
                label: str = "") -> tuple[AccessToken, str]:
    """Store a new token (its digest only) and return the row and the token's text."""
    text = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AccessToken(id=f"tok_{secrets.token_hex(8)}", digest=digest(text), kind=kind,
                      user_id=user_id, person_id=person_id, role=role,
                      sites=list(sites or []), label=label[:200], created_at=now,
                      expires_at=None if ttl_s is None else now + ttl_s)
    session.add(row)
    session.flush()
    return row, text


def find_token(session: Session, text: str) -> AccessToken | None:
    """Return the row of a token's text, live or not; None for an unknown one."""
    if not text.startswith(TOKEN_PREFIX) or len(text) > 200:
        return None
    return session.scalar(select(AccessToken).where(AccessToken.digest == digest(text)))


def revoke_user_tokens(session: Session, user_id: str, now: float,
                       keep: str | None = None) -> None:
    """End every login of a user (but the token `keep`)."""
    for row in session.scalars(select(AccessToken).where(
            AccessToken.user_id == user_id, AccessToken.revoked_at.is_(None))):
        if row.id != keep:
            row.revoked_at = now


def device_person(session: Session, token: AccessToken | None, now: float) -> Caregiver | None:
    """Return the active person of a live device login; None otherwise."""
    if token is None or token.kind != "device" or not token.live(now) or not token.person_id:
        return None
    person = session.get(Caregiver, token.person_id)
    if person is None or not person.active:
        return None
    note_use(token, now)
    return person


# A token notes its last use at most this often: one write a minute, not one per request.
LAST_USED_EVERY_S = 60.0


def note_use(token: AccessToken, now: float) -> bool:
    """Note that `token` was used now, unless noted within the last minute; return whether."""
    if token.last_used_at is not None and now - token.last_used_at <= LAST_USED_EVERY_S:
        return False
    token.last_used_at = now
    return True


@dataclass
class Throttle:
    """At most `limit` events per key within `window_s`; counts what it refused."""

    limit: int
    window_s: float

    def __post_init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self.refused = 0

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._seen[key]
        return times

    def wait_s(self, keys: list[str], now: float) -> float:
        """Return how long until every key is below its limit (0: now)."""
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                wait = max(wait, times[-self.limit] + self.window_s - now)
        return wait

    def note(self, keys: list[str], now: float) -> None:
        if len(self._seen) > MAX_THROTTLE_KEYS:  # guessed names must not fill the memory
            for key in list(self._seen):
                self._recent(key, now)
        for key in keys:
            self._seen.setdefault(key, deque()).append(now)

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)
