"""Who may act on an alert: every role × every action, on the caregiver's page, the
acknowledge link and the REST API (as the login's own person); removed people are refused
everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hub.config import HubConfig
from hub.db import Alert, Caregiver, Silence
from hub.registry import deactivate_person
from hub.web import WebContext, create_app
from tests.hub.conftest import FakeClock, site_config
from tests.hub.engine import state_of
from tests.hub.logins import login
from tests.hub.webapp import hubless_context, raise_event

ROLES = {"oncall": "cg-a", "backup": "cg-b", "supervisor": "cg-s", "family": "fam-home-1-1",
         "doctor": "doc-home-1", "desk": "desk-li", "removed": "cg-gone"}
ALLOWED = {  # on home-1 (town site), the home of the family and the doctor
    "oncall": {"view", "ack", "on_site", "resolve", "silence"},
    "backup": {"view", "ack", "on_site", "resolve", "silence"},
    "supervisor": {"view", "ack", "on_site", "resolve", "silence"},
    "family": {"view", "ack"},
    "doctor": {"view"},
    "desk": {"view", "ack", "resolve", "silence"},
    "removed": set(),
}
# home-2: the same site, another family; home-3: another site.
SEES = {"home-1": set(ROLES) - {"removed"},
        "home-2": {"oncall", "backup", "supervisor", "desk"},
        "home-3": {"desk"}}
ACTIONS = ("view", "ack", "on_site", "resolve", "silence")


def _config(tmp_path: Path) -> HubConfig:
    staff = [
        {"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
        {"id": "cg-b", "name": "B", "site": "town", "role": "backup", "notify": ["json://b/"]},
        {"id": "cg-s", "name": "S", "site": "town", "role": "supervisor",
         "notify": ["json://s/"]},
        {"id": "cg-v", "name": "V", "site": "village", "notify": ["json://v/"]},
        {"id": "cg-gone", "name": "Left", "site": "town", "notify": ["json://g/"]},
    ]
    return site_config(
        tmp_path,
        sites=[{"id": "town", "name": "Town"}, {"id": "village", "name": "Village",
                                                 "kind": "rural"}],
        homes=[{"id": "home-1", "site": "town", "resident": {
                    "name": "Wang", "doctor_notify": ["json://doctor/"],
                    "family": [{"name": "Son", "notify": ["json://son/"]}]}},
               {"id": "home-2", "site": "town", "resident": {"name": "Zhao"}},
               {"id": "home-3", "site": "village", "resident": {"name": "Liu"}}],
        caregivers=staff, desk=[{"id": "desk-li", "name": "Li", "notify": ["json://desk/"]}])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[WebContext, TestClient]]:
    """The hub's web side on one registry (no ingest: events go straight to the engine)."""
    tmp_path = tmp_path_factory.mktemp("access")
    hub = hubless_context(_config(tmp_path), FakeClock(wire_now()))
    with hub.sessions() as session:  # cg-gone leaves the organisation
        deactivate_person(session, "cg-gone")
        session.commit()
    yield hub, TestClient(create_app(hub))


def wire_now() -> float:
    return 1_764_000_000.0


def fresh_fall(hub: WebContext, home: str) -> int:
    with hub.sessions() as session:  # a clean slate: nothing open, nothing silenced
        session.execute(update(Alert).values(state="resolved"))
        session.execute(Silence.__table__.delete())
        session.commit()
    raise_event(hub, home, "fall", wire_now())
    with hub.sessions() as session:
        alert = session.scalars(select(Alert).where(Alert.state == "open")).one()
        return alert.id


def token(link: str) -> str:
    return link.rsplit("/", 1)[1]


CASES = [(role, action, home) for home in SEES for role in ROLES for action in ACTIONS]


@pytest.mark.parametrize(("role", "action", "home"), CASES,
                         ids=[f"{r}-{a}-{h}" for r, a, h in CASES])
def test_who_may_do_what_on_the_caregivers_page(world: tuple[WebContext, TestClient], role: str,
                                                action: str, home: str) -> None:
    hub, client = world
    person = ROLES[role]
    alert_id = fresh_fall(hub, home)
    sees = role in SEES[home]
    allowed = sees and action in ALLOWED[role]
    page = f"/c/{token(hub.engine.desk_link(person))}"
    body = {"resolution": "real"} if action == "resolve" else {}
    if role == "removed":
        expected = 403  # the link itself is dead
    elif action == "view":
        response = client.get(f"{page}/alerts")
        assert response.status_code == 200
        assert (alert_id in [a["id"] for a in response.json()["alerts"]]) is sees
        return
    else:
        expected = 200 if allowed else 403 if sees else 404
    if action == "view":
        response = client.get(f"{page}/alerts")
    elif action == "silence":
        response = client.post(f"{page}/homes/{home}/silence",
                               json={"minutes": 30, "reason": "with her"})
    else:
        response = client.post(f"{page}/alerts/{alert_id}/{action}", json=body)
    assert response.status_code == expected, response.text
    if action in ("ack", "on_site", "resolve"):
        moved = {"ack": "acknowledged", "on_site": "on_site", "resolve": "resolved"}[action]
        assert state_of(hub, alert_id) == (moved if allowed else "open")
    if allowed and action != "silence":
        shown = {a["id"]: a["actions"] for a in response.json()["alerts"]}
        assert alert_id not in shown or set(shown[alert_id]) <= ALLOWED[role]


# Through the REST API a login acts as its own registry person: the login's role says whether
# it may act at all (family and doctors read only), the person's role what it may do.
LOGIN_ROLES = {"oncall": "caregiver", "backup": "caregiver", "supervisor": "caregiver",
               "family": "family", "doctor": "family", "desk": "desk", "removed": "caregiver"}
API_CASES = [case for case in CASES if case[1] != "view"]


@pytest.fixture(scope="module")
def api_logins(world: tuple[WebContext, TestClient]) -> dict[str, dict[str, str]]:
    """The bearer headers of one login per role, made before cg-gone left."""
    hub, _ = world
    with hub.sessions() as session:
        session.execute(update(Caregiver).where(Caregiver.id == "cg-gone").values(active=True))
        session.commit()
    made = {role: login(hub, LOGIN_ROLES[role], username=role, person=person)
            for role, person in ROLES.items()}
    with hub.sessions() as session:
        deactivate_person(session, "cg-gone")
        session.commit()
    return made


@pytest.mark.parametrize(("role", "action", "home"), API_CASES,
                         ids=[f"{r}-{a}-{h}" for r, a, h in API_CASES])
def test_who_may_do_what_through_the_rest_api(world: tuple[WebContext, TestClient],
                                              api_logins: dict[str, dict[str, str]],
                                              role: str, action: str, home: str) -> None:
    hub, client = world
    alert_id = fresh_fall(hub, home)
    allowed = role in SEES[home] and action in ALLOWED[role]
    if role == "removed":
        expected = 401  # the person left: so did their login
    elif LOGIN_ROLES[role] == "family":
        expected = 403  # a family login reads only
    else:
        expected = 200 if allowed else 403 if role in SEES[home] else 404
    auth = api_logins[role]
    if action == "silence":
        response = client.post(f"/api/homes/{home}/silence", headers=auth,
                               json={"minutes": 30, "reason": "with her"})
    else:
        body = {"resolution": "real"} if action == "resolve" else {}
        response = client.post(f"/api/alerts/{alert_id}/{action}", json=body, headers=auth)
    assert response.status_code == expected, response.text
    if action != "silence":
        assert (state_of(hub, alert_id) == "open") is not (expected == 200)


@pytest.mark.parametrize("role", list(ROLES))
def test_the_acknowledge_link_works_only_for_who_may_acknowledge(
        world: tuple[WebContext, TestClient], role: str) -> None:
    hub, client = world
    for home in SEES:
        alert_id = fresh_fall(hub, home)
        link = f"/ack/{token(hub.engine.ack_link(alert_id, ROLES[role]))}"
        allowed = role in SEES[home] and "ack" in ALLOWED[role]
        assert client.get(link).status_code == (200 if allowed else 403)
        response = client.post(link)
        assert response.status_code == (200 if allowed else 403), (home, response.text)
        assert state_of(hub, alert_id) == ("acknowledged" if allowed else "open")


def test_a_page_link_is_not_an_acknowledge_link(world: tuple[WebContext, TestClient]) -> None:
    hub, client = world
    fresh_fall(hub, "home-1")
    response = client.post(f"/ack/{token(hub.engine.desk_link('cg-a'))}")
    assert response.status_code == 403 and "not an acknowledge link" in response.text


def test_the_desk_sees_unregistered_homes_and_staff_do_not(
        world: tuple[WebContext, TestClient]) -> None:
    hub, client = world
    fresh_fall(hub, "home-1")
    raise_event(hub, "home-77", "call", wire_now(), device="b")
    desk = client.get(f"/c/{token(hub.engine.desk_link('desk-li'))}/alerts").json()["alerts"]
    staff = client.get(f"/c/{token(hub.engine.desk_link('cg-a'))}/alerts").json()["alerts"]
    assert {(a["home"], a["kind"]) for a in desk} >= {("home-77", "call"),
                                                        ("home-77", "unknown_home")}
    assert [a["resident"] for a in desk if a["home"] == "home-77"] == ["unregistered home"] * 2
    assert all(a["home"] != "home-77" for a in staff)
