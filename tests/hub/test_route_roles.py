"""Every route of the hub's web app × every role: the roles it declares are the ones in the
table below, a request without credentials is 401, a role not allowed is 403, an allowed one
gets through; and what each role sees is scoped (another station's rows are 404 or absent).

A new route fails `test_every_route_is_in_the_table` until it is added to ROUTES.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub import accounts, db
from hub.db import Alert
from hub.web import WebContext, create_app
from hub.web.auth import ROLES
from tests.hub.conftest import FakeClock, site_config
from tests.hub.logins import headers, integration_token, make_user, token_of
from tests.hub.webapp import hubless_context, raise_event

OPEN = "open"  # served without credentials
LOGIN = "login"  # any valid login, whatever its role
LINK = "link"  # a signed link in the path or the phone's device login: never a bearer token
EVERYONE = frozenset(ROLES)
STAFF = frozenset({"admin", "desk", "caregiver"})
FLEET = frozenset({"admin", "desk", "integration"})
ADMIN = frozenset({"admin"})
REGISTRY_READERS = frozenset({"admin", "desk", "caregiver", "integration"})
DESK = frozenset({"admin", "desk"})

# (method, path) → who may call it. HEAD is GET's.
ROUTES: dict[tuple[str, str], str | frozenset[str]] = {
    ("GET", "/openapi.json"): OPEN, ("GET", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN, ("GET", "/redoc"): OPEN,
    ("GET", "/healthz"): OPEN,
    ("POST", "/api/auth/token"): OPEN,
    ("POST", "/api/auth/logout"): LOGIN,
    ("GET", "/api/auth/me"): LOGIN,
    ("POST", "/api/auth/password"): LOGIN,
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("POST", "/api/users/{user_id}/deactivate"): ADMIN,
    ("POST", "/api/users/{user_id}/reset-password"): ADMIN,
    ("GET", "/api/tokens"): ADMIN,
    ("POST", "/api/tokens"): ADMIN,
    ("POST", "/api/tokens/{token_id}/revoke"): ADMIN,
    ("GET", "/api/alerts"): EVERYONE,
    ("GET", "/api/alerts/{alert_id}"): EVERYONE,
    ("POST", "/api/alerts/{alert_id}/{action}"): STAFF,
    ("GET", "/api/events"): EVERYONE,
    ("GET", "/api/homes"): EVERYONE,
    ("POST", "/api/homes/{home_id}/silence"): STAFF,
    ("GET", "/api/audit"): DESK,
    ("GET", "/api/stats"): FLEET,
    ("GET", "/api/stats/alerts"): FLEET,
    ("GET", "/api/dead-letters"): DESK,
    ("GET", "/api/fleet/health"): REGISTRY_READERS,
    ("GET", "/api/fleet/visits"): REGISTRY_READERS,
    ("GET", "/ack/{token}"): LINK, ("POST", "/ack/{token}"): LINK,
    ("POST", "/ack/{token}/device"): LINK,
    ("POST", "/link/renew"): OPEN,
    ("GET", "/c"): LINK, ("GET", "/c/login"): OPEN, ("POST", "/c/login"): OPEN,
    ("POST", "/c/logout"): OPEN, ("GET", "/c/alerts"): LINK, ("GET", "/c/stream"): LINK,
    ("POST", "/c/alerts/{alert_id}/{action}"): LINK,
    ("POST", "/c/homes/{home_id}/silence"): LINK,
    ("GET", "/c/{token}"): LINK, ("POST", "/c/{token}/device"): LINK,
    ("GET", "/c/{token}/alerts"): LINK, ("GET", "/c/{token}/stream"): LINK,
    ("POST", "/c/{token}/alerts/{alert_id}/{action}"): LINK,
    ("POST", "/c/{token}/homes/{home_id}/silence"): LINK,
    # The registry (hub/web/routes/registry*.py).
    ("GET", "/api/registry/organisations"): FLEET,
    ("POST", "/api/registry/organisations"): ADMIN,
    ("GET", "/api/registry/organisations/{org_id}"): FLEET,
    ("PATCH", "/api/registry/organisations/{org_id}"): ADMIN,
    ("GET", "/api/registry/sites"): REGISTRY_READERS,
    ("POST", "/api/registry/sites"): ADMIN,
    ("GET", "/api/registry/sites/{site_id}"): REGISTRY_READERS,
    ("PATCH", "/api/registry/sites/{site_id}"): ADMIN,
    ("POST", "/api/registry/sites/{site_id}/deactivate"): ADMIN,
    ("GET", "/api/registry/sites/{site_id}/rota"): REGISTRY_READERS,
    ("PUT", "/api/registry/sites/{site_id}/rota"): ADMIN,
    ("GET", "/api/registry/people"): REGISTRY_READERS,
    ("POST", "/api/registry/people"): ADMIN,
    ("GET", "/api/registry/people/{person_id}"): REGISTRY_READERS,
    ("PATCH", "/api/registry/people/{person_id}"): ADMIN,
    ("POST", "/api/registry/people/{person_id}/deactivate"): ADMIN,
    ("GET", "/api/registry/homes"): EVERYONE,
    ("POST", "/api/registry/homes"): ADMIN,
    ("GET", "/api/registry/homes/{home_id}"): EVERYONE,
    ("PATCH", "/api/registry/homes/{home_id}"): ADMIN,
    ("POST", "/api/registry/homes/{home_id}/deactivate"): ADMIN,
    ("POST", "/api/registry/homes/{home_id}/devices"): ADMIN,
    ("PATCH", "/api/registry/homes/{home_id}/devices/{device_id}"): ADMIN,
    ("POST", "/api/registry/homes/{home_id}/devices/{device_id}/deactivate"): ADMIN,
    ("GET", "/api/registry/residents"): EVERYONE,
    ("POST", "/api/registry/residents"): ADMIN,
    ("GET", "/api/registry/residents/{resident_id}"): EVERYONE,
    ("PATCH", "/api/registry/residents/{resident_id}"): ADMIN,
    ("POST", "/api/registry/residents/{resident_id}/deactivate"): ADMIN,
    # The resident's rights (personal data: export, erasure).
    ("GET", "/api/residents/{resident_id}/export"): ADMIN,
    ("DELETE", "/api/residents/{resident_id}"): ADMIN,
}


def declared(dependant: Any) -> str | frozenset[str]:
    """Return what a route's dependencies ask for: roles (`require`), a login, or nothing."""
    roles: set[str] = set()
    login = False
    for dep in dependant.dependencies:
        roles |= getattr(dep.call, "roles", set())
        login |= getattr(dep.call, "__name__", "") == "get_principal"
        inner = declared(dep)
        if isinstance(inner, frozenset):
            roles |= inner
        login |= inner == LOGIN
    return frozenset(roles) if roles else LOGIN if login else OPEN


def routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    """Return (method, path, route) for every route the app serves (HEAD aside)."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                found.append((method, str(context.path), route))
    return found


class World:
    """Stations: town (home-1, cg-a, a family), village (home-2, cg-v) and spare (home-3,
    cg-x: the rows that requests which change things are pointed at)."""

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        config = site_config(
            tmp_path, database={"url": db_url},
            sites=[{"id": "town", "name": "Town"},
                   {"id": "village", "name": "Village", "kind": "rural"},
                   {"id": "spare", "name": "Spare"}],
            homes=[{"id": "home-1", "site": "town", "resident": {
                        "name": "Wang", "family": [{"name": "Son", "notify": ["json://son/"]}]}},
                   {"id": "home-2", "site": "village", "resident": {"name": "Liu"}},
                   {"id": "home-3", "site": "spare", "resident": {"name": "Zhao"}}],
            caregivers=[{"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
                        {"id": "cg-v", "name": "V", "site": "village",
                         "notify": ["json://v/"]},
                        {"id": "cg-x", "name": "X", "site": "spare", "notify": ["json://x/"]}],
            desk=[{"id": "desk-li", "name": "Li", "notify": ["json://li/"]},
                  {"id": "desk-boss", "name": "Boss", "notify": ["json://boss/"]}])
        self.context: WebContext = hubless_context(config, FakeClock())
        self.app = create_app(self.context)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        c = self.context
        self.users = {
            "admin": make_user(c, "admin", username="boss", person="desk-boss"),
            "desk": make_user(c, "desk", username="li", person="desk-li"),
            "caregiver": make_user(c, "caregiver", username="a", person="cg-a"),
            "family": make_user(c, "family", username="son", person="fam-home-1-1"),
        }
        self.village = make_user(c, "caregiver", username="v", person="cg-v")
        self.victim = make_user(c, "desk", username="victim")
        with c.sessions() as session:
            victim_token, _ = accounts.issue_token(session, kind="integration", now=0,
                                                   ttl_s=None, label="victim")
            session.commit()
        for home in ("home-1", "home-2", "home-3"):
            raise_event(c, home, "fall", c.clock.now())
        with c.sessions() as session:
            alerts = {a.home: a.id for a in session.scalars(select(Alert))}
        self.station = {  # the path parameters of station 1, and of station 2
            1: {"alert_id": alerts["home-1"], "home_id": "home-1", "site_id": "town",
                "person_id": "cg-a", **self._residents(c, "home-1")},
            2: {"alert_id": alerts["home-2"], "home_id": "home-2", "site_id": "village",
                "person_id": "cg-v", **self._residents(c, "home-2")},
            # What the walk changes (deactivates, erases) belongs to a third station.
            3: {"alert_id": alerts["home-3"], "home_id": "home-3", "site_id": "spare",
                "person_id": "cg-x", **self._residents(c, "home-3")},
        }
        self.others = {"user_id": self.victim.id, "token_id": victim_token.id,
                       "action": "ack", "token": "not-a-link", "org_id": "nobody"}

    @staticmethod
    def _residents(context: WebContext, home: str) -> dict[str, str]:
        resident = getattr(db, "Resident", None)
        if resident is None:
            return {}
        with context.sessions() as session:
            row = session.scalars(select(resident).where(resident.home_id == home)).first()
            return {"resident_id": row.id} if row is not None else {}

    def auth(self, role: str | None, user: accounts.User | None = None) -> dict[str, str]:
        """Return fresh credentials of a role (a route may end the login it is given)."""
        if role is None:
            return {}
        if role == "integration" and user is None:
            return headers(integration_token(self.context))
        return headers(token_of(self.context, user or self.users[role]))

    def path(self, template: str, station: int = 1) -> str:
        values: dict[str, Any] = {**self.others, **self.station[station]}
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), "x")), template)

    def call(self, method: str, template: str, auth: dict[str, str],
             station: int | None = None) -> Any:
        changes = method != "GET"
        body = {} if method in ("POST", "PUT", "PATCH") else None
        station = station or (3 if changes else 1)
        return self.client.request(method, self.path(template, station), json=body,
                                   headers=auth)


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> World:
    return World(tmp_path, db_url)


def test_every_route_is_in_the_table(world: World) -> None:
    served = routes(world.app)
    missing = sorted({(m, p) for m, p, _ in served} - set(ROUTES))
    assert not missing, f"add these routes to ROUTES with the roles they serve: {missing}"
    for method, path, route in served:
        want = ROUTES[(method, path)]
        got = declared(route.dependant) if hasattr(route, "dependant") else OPEN
        if want == LINK:
            want = OPEN  # links and the phone's login are checked by the route itself
        assert got == want, f"{method} {path} declares {got}, the table says {want}"
        if path.startswith("/api/") and (method, path) != ("POST", "/api/auth/token"):
            assert got != OPEN, f"{method} {path}: every /api route needs a login"


def test_every_route_by_every_role(world: World) -> None:
    checked = 0
    for method, path, _ in routes(world.app):
        want = ROUTES[(method, path)]
        if path in ("/api/auth/token", "/c/login") or path.endswith("/stream"):
            continue  # logins have their own tests; streams do not end
        anonymous = world.call(method, path, {})
        if want == OPEN:
            assert anonymous.status_code not in (401, 403), (method, path, anonymous.text)
            continue
        if want == LINK:  # a bearer token opens no page: only the link or the phone
            for role in ROLES:
                answer = world.call(method, path, world.auth(role))
                assert answer.status_code in (401, 403, 404, 410), (method, path, role)
                assert answer.headers["content-type"].startswith("text/html")
            continue
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        for role in ROLES:
            answer = world.call(method, path, world.auth(role))
            allowed = want == LOGIN or role in want
            if allowed:
                assert answer.status_code not in (401, 403), (method, path, role, answer.text)
            else:
                assert answer.status_code == 403, (method, path, role, answer.text)
            checked += 1
    assert checked > 100


STATION_2 = ("home-2", "village", "cg-v", "Liu")


def _readable(world: World, role: str) -> list[tuple[str, str]]:
    """Return the GET routes under /api that `role` may call."""
    return [(m, p) for m, p, _ in routes(world.app)
            if m == "GET" and p.startswith("/api/") and isinstance(ROUTES[(m, p)], frozenset)
            and role in ROUTES[(m, p)]]


@pytest.mark.parametrize("role", ["caregiver", "family"])
def test_station_1_sees_nothing_of_station_2(world: World, role: str) -> None:
    def auth() -> dict[str, str]:
        return world.auth(role)

    rows = []
    for method, path in _readable(world, role):
        if "{" not in path:  # a list: station 2 is simply absent
            answer = world.call(method, path, auth())
            assert answer.status_code == 200, (path, answer.text)
            assert not any(name in answer.text for name in STATION_2), (path, answer.text)
            continue
        params = set(re.findall(r"\{(\w+)\}", path))
        if params <= set(world.station[2]):  # one of station 2's rows: not found
            answer = world.call(method, path, auth(), station=2)
            assert answer.status_code == 404, (path, answer.text)
            rows.append(path)
            mine = world.call(method, path, auth(), station=1)
            assert mine.status_code == 200, (path, mine.text)  # its own station's row
    assert "/api/alerts/{alert_id}" in rows
    if "resident_id" in world.station[2]:  # the registry's residents are scoped too
        assert any("{resident_id}" in path for path in rows), rows


def test_acting_on_station_2_is_404_and_family_reads_only(world: World) -> None:
    cg = world.auth("caregiver")
    two, one = world.station[2], world.station[1]
    assert world.client.post(f"/api/alerts/{two['alert_id']}/ack", json={},
                             headers=cg).status_code == 404
    assert world.client.post("/api/homes/home-2/silence", json={
        "minutes": 5, "reason": "x"}, headers=cg).status_code == 404
    assert world.client.post(f"/api/alerts/{one['alert_id']}/ack", json={},
                             headers=world.auth("family")).status_code == 403
    village = world.auth("caregiver", world.village)
    assert world.client.post(f"/api/alerts/{two['alert_id']}/ack", json={},
                             headers=village).status_code == 200
    scoped = headers(integration_token(world.context, sites=["village"]))
    assert [h["id"] for h in world.client.get("/api/homes", headers=scoped).json()] == [
        "home-2"]
    assert world.client.get(f"/api/alerts/{one['alert_id']}",
                            headers=scoped).status_code == 404
    desk = world.client.get("/api/alerts?state=all", headers=world.auth("desk")).json()
    assert {a["home"] for a in desk} == {"home-1", "home-2", "home-3"}
