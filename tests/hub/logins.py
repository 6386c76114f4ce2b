"""Act as a role in hub tests: users and tokens made straight in the store, as headers.

    headers = login(context, "caregiver", person="cg-a")
    client.get("/api/alerts", headers=headers)
"""

from __future__ import annotations

from hub import accounts
from hub.web import WebContext

PASSWORD = "a long test password 42"


def make_user(context: WebContext, role: str, *, username: str | None = None,
              person: str | None = None, sites: list[str] | None = None,
              home: str | None = None, password: str = PASSWORD) -> accounts.User:
    """Create an active user with `password` already chosen (no one-time password left)."""
    now = context.clock.now()
    with context.sessions() as session:
        user, _ = accounts.create_user(session, username=username or f"{role}-{person or 'x'}",
                                       role=role, now=now, person_id=person, sites=sites,
                                       home=home)
        accounts.set_password(session, user, password, now)
        session.commit()
        session.expunge(user)
    return user


def token_of(context: WebContext, user: accounts.User) -> str:
    """Return a fresh session token of `user`, as the token endpoint would issue it."""
    with context.sessions() as session:
        _, text = accounts.issue_token(session, kind="session", now=context.clock.now(),
                                       ttl_s=accounts.SESSION_TTL_S, user_id=user.id)
        session.commit()
    return text


def integration_token(context: WebContext, sites: list[str] | None = None,
                      label: str = "test integration") -> str:
    """Return a new integration API token (scoped to `sites`; every home when empty)."""
    with context.sessions() as session:
        _, text = accounts.issue_token(session, kind="integration", now=context.clock.now(),
                                       ttl_s=None, role="integration", sites=sites,
                                       label=label)
        session.commit()
    return text


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(context: WebContext, role: str, **user: object) -> dict[str, str]:
    """Return the headers of a new user of `role` (an integration token for "integration").

    `user` goes to `make_user` (username, person, sites, home).
    """
    if role == "integration" and not user:
        return headers(integration_token(context))
    return headers(token_of(context, make_user(context, role, **user)))  # type: ignore[arg-type]
