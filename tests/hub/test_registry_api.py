"""The registry's REST API: admins enrol and change homes, residents, people and the rota,
which count at the next event; every other role reads only what it may see (404 beyond);
bad input is a 4xx naming the field, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.db import Alert, Page
from hub.web import create_app
from hub.web.auth import Principal, get_principal
from tests.hub.conftest import site_config
from tests.hub.webapp import hubless_context, raise_event

ADMIN = Principal(id="u-admin", role="admin")
DESK = Principal(id="u-desk", role="desk")
INTEGRATION = Principal(id="t-bi", role="integration", all_homes=True)
TOWN = Principal(id="u-a", role="caregiver", person_id="cg-a", sites=frozenset({"town"}))
VILLAGE = Principal(id="u-v", role="caregiver", person_id="cg-v", sites=frozenset({"village"}))
FAMILY = Principal(id="u-son", role="family", homes=frozenset({"home-1"}))

Act = Callable[[Principal], TestClient]


@pytest.fixture
def world(tmp_path: Path) -> tuple[Any, Act]:
    context = hubless_context(site_config(
        tmp_path,
        sites=[{"id": "town", "name": "Town station"},
               {"id": "village", "name": "Village station", "kind": "rural"}],
        homes=[{"id": "home-1", "site": "town", "address": "Qingshan Road 12",
                "resident": {"name": "Wang Guirong"}},
               {"id": "home-2", "site": "village", "address": "Shangping 7",
                "resident": {"name": "Zhao Ming"}}],
        caregivers=[{"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
                    {"id": "cg-v", "name": "V", "site": "village", "notify": ["json://v/"]}]))
    app = create_app(context)
    client = TestClient(app)

    def act(principal: Principal) -> TestClient:
        app.dependency_overrides[get_principal] = lambda: principal
        return client

    return context, act


def test_an_enrolled_home_is_paged_for_at_once(world: tuple[Any, Act]) -> None:
    context, act = world
    created = act(ADMIN).post("/api/registry/homes", json={
        "site": "town", "address": "Hill Lane 3", "door_notes": "2nd floor, left",
        "lat": 30.27, "lon": 120.15,
        "resident": {"name": "Li Xiu", "sex": "female", "birth_year": 1941,
                     "care_categories": ["living_alone", "low_income"],
                     "consent": {"call_button": True, "share_with_family": True},
                     "consent_at": "2026-11-20T10:00:00+08:00"},
        "devices": [{"id": "bedside-button", "type": "call_button", "label": "by the bed"}]})
    assert created.status_code == 201, created.text
    home = created.json()
    assert home["id"].startswith("h-") and home["resident_name"] == "Li Xiu"
    [resident] = home["residents"]
    assert resident["id"].startswith("r-") and resident["consent"]["call_button"] is True
    assert home["devices"][0]["id"] == "bedside-button"
    raise_event(context, home["id"], "call", context.clock.now(), device="bedside-button")
    with context.sessions() as session:
        alert = session.scalars(select(Alert).where(Alert.home == home["id"])).one()
        pages = session.scalars(select(Page).where(Page.alert_id == alert.id)).all()
        assert [p.caregiver_id for p in pages] == ["cg-a"]  # the town's on-call, no restart
    # A resident added later is on the pages too; a patch changes only what it names.
    client = act(ADMIN)
    added = client.post("/api/registry/residents", json={"home": home["id"],
                                                         "name": "Li Hua"})
    assert added.status_code == 201
    changed = client.patch(f"/api/registry/homes/{home['id']}", json={"phone": "0571-1234"})
    assert changed.json()["resident_name"] == "Li Hua、Li Xiu"
    assert (changed.json()["phone"], changed.json()["door_notes"]) == ("0571-1234",
                                                                        "2nd floor, left")


@pytest.mark.parametrize(("principal", "homes"), [
    (ADMIN, ["home-1", "home-2"]), (DESK, ["home-1", "home-2"]),
    (INTEGRATION, ["home-1", "home-2"]), (TOWN, ["home-1"]), (VILLAGE, ["home-2"]),
    (FAMILY, ["home-1"])])
def test_each_role_reads_what_it_may_see(world: tuple[Any, Act], principal: Principal,
                                         homes: list[str]) -> None:
    _, act = world
    client = act(principal)
    listed = client.get("/api/registry/homes").json()
    assert [h["id"] for h in listed["items"]] == homes and listed["total"] == len(homes)
    residents = client.get("/api/registry/residents").json()["items"]
    assert sorted(r["home_id"] for r in residents) == homes
    for home in ("home-1", "home-2"):
        answer = client.get(f"/api/registry/homes/{home}")
        assert answer.status_code == (200 if home in homes else 404)  # never 403
    for resident in residents:
        assert client.get(f"/api/registry/residents/{resident['id']}").status_code == 200
    assert client.get("/api/registry/homes/home-9").status_code == 404
    sites = client.get("/api/registry/sites")
    if principal.role == "family":
        assert sites.status_code == 403  # family read their resident's home only
    else:
        assert sorted(s["id"] for s in sites.json()["items"]) == sorted(
            {"home-1": "town", "home-2": "village"}[h] for h in homes)


@pytest.mark.parametrize("principal", [DESK, INTEGRATION, TOWN, FAMILY])
def test_only_admins_write(world: tuple[Any, Act], principal: Principal) -> None:
    _, act = world
    client = act(principal)
    assert client.post("/api/registry/homes", json={"site": "town"}).status_code == 403
    assert client.patch("/api/registry/homes/home-1", json={"phone": "1"}).status_code == 403
    assert client.post("/api/registry/people/cg-a/deactivate").status_code == 403
    assert client.put("/api/registry/sites/town/rota", json={}).status_code == 403
    assert client.delete("/api/residents/r-00000000").status_code == 403


def test_people_and_the_rota(world: tuple[Any, Act]) -> None:
    _, act = world
    client = act(ADMIN)
    son = client.post("/api/registry/people", json={
        "name": "Son", "role": "family", "home": "home-1", "notify": ["json://son/"],
        "phone": "139 0000 0000"})
    assert son.status_code == 201 and son.json()["site_id"] == "town"
    desk = client.post("/api/registry/people", json={
        "id": "desk-li", "name": "Li", "role": "desk", "notify": ["json://desk/"]})
    assert desk.status_code == 201
    rota = client.put("/api/registry/sites/town/rota", json={
        "shifts": [{"caregiver": "cg-a", "role": "oncall", "days": ["mon"], "start": "20:00",
                    "end": "08:00"}],
        "overrides": [{"caregiver": "cg-a", "role": "backup", "start": "2026-12-01T08:00",
                       "end": "2026-12-01T20:00"}]})
    assert rota.status_code == 200, rota.text
    got = act(TOWN).get("/api/registry/sites/town/rota").json()
    assert [s["start"] for s in got["shifts"]] == ["20:00"] and len(got["overrides"]) == 1
    assert act(VILLAGE).get("/api/registry/sites/town/rota").status_code == 404
    town_people = act(TOWN).get("/api/registry/people").json()["items"]
    assert {p["id"] for p in town_people} == {"cg-a", son.json()["id"]}
    gone = act(ADMIN).post(f"/api/registry/people/{son.json()['id']}/deactivate")
    assert gone.json()["active"] is False


@pytest.mark.parametrize(("method", "path", "body", "status", "text"), [
    ("post", "/api/registry/homes", {"site": "town", "colour": "red"}, 422, "colour"),
    ("post", "/api/registry/homes", {"site": "nowhere"}, 422, "unknown site 'nowhere'"),
    ("post", "/api/registry/homes", {"id": "home-1", "site": "town"}, 409, "exists"),
    ("post", "/api/registry/homes", {"id": "Home 1", "site": "town"}, 422, "pattern"),
    ("post", "/api/registry/homes", {"site": "town", "lat": 91}, 422, "lat"),
    ("post", "/api/registry/residents", {"home": "home-1", "name": "X",
                                         "care_categories": ["rich"]}, 422, "care_categories"),
    ("post", "/api/registry/residents", {"home": "home-1", "name": "X",
                                         "consent": {"camera": True}}, 422, "camera"),
    ("patch", "/api/registry/homes/home-9", {"phone": "1"}, 404, "no home 'home-9'"),
    ("patch", "/api/registry/sites/town", {"escalation": [{"role": "backup", "after_s": 9}]},
     422, "first step"),
    ("patch", "/api/registry/sites/town", {"timezone": "Mars/Olympus"}, 422, "time zone"),
    ("post", "/api/registry/people", {"name": "S", "role": "oncall",
                                      "notify": ["json://s/"]}, 422, "give `site`"),
    ("put", "/api/registry/sites/town/rota", {"shifts": [
        {"caregiver": "cg-v", "role": "oncall", "days": ["mon"], "start": "08:00",
         "end": "20:00"}]}, 422, "not staff of site 'town'"),
    ("put", "/api/registry/sites/nowhere/rota", {}, 404, "no site"),
    ("get", "/api/registry/homes?limit=501", None, 422, "limit"),
    ("get", "/api/registry/homes?offset=-1", None, 422, "offset"),
])
def test_bad_input_is_a_clear_4xx(world: tuple[Any, Act], method: str, path: str,
                                  body: dict[str, Any] | None, status: int, text: str) -> None:
    _, act = world
    client = act(ADMIN)
    answer = client.request(method.upper(), path, json=body)
    assert answer.status_code == status, answer.text
    assert text in answer.text
