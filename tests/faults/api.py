"""The hub's REST API for tests that run hub processes: logins made straight in the hub's
database (no password hashed per request: on a busy machine that alone can take seconds),
and a small client with a bearer token."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from rig.site import LocalSite


def site_db_url(site: LocalSite) -> str:
    """Return the database URL of a local site's hub (its SQLite file)."""
    return f"sqlite:///{Path(site.root) / 'hub' / 'hub.sqlite'}"


def make_logins(db_url: str, people: tuple[str, ...] = ()) -> dict[str, str]:
    """Create the administrator (`admin`) and a caregiver login per registry person; return a
    session token of each, by user name."""
    from hub import accounts

    engine = create_engine(db_url)
    tokens: dict[str, str] = {}
    try:
        with Session(engine) as db:
            for name, role, person in [("admin", "admin", None),
                                       *((p, "caregiver", p) for p in people)]:
                user, _ = accounts.create_user(db, username=name, role=role, now=time.time(),
                                               person_id=person)
                user.must_change_password = False
                _, tokens[name] = accounts.issue_token(db, kind="session", now=time.time(),
                                                       ttl_s=3600, user_id=user.id)
            db.commit()
    finally:
        engine.dispose()
    return tokens


@dataclass
class Api:
    """One hub's API as one login."""

    base: str
    token: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = response.read()
        return json.loads(answer) if answer else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("POST", path, body)


def wait_online(api: Api, homes: list[str], timeout_s: float = 120.0) -> None:
    """Wait until the hub sees the agents of `homes` online."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = {h["id"]: h["agent"] for h in api.get("/api/homes")}
        if all(state.get(home) == "online" for home in homes):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"agents not online within {timeout_s:g} s: {state}")
        time.sleep(0.2)
