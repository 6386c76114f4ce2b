"""Logins and tokens: argon2 passwords, short-lived sessions, the login throttle, one-time
passwords, integration tokens kept hashed, and no default user anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from bedwatch.cli import app as cli
from hub import accounts
from hub.accounts import AccessToken, User
from hub.db import make_engine, make_sessionmaker
from hub.web import WebContext, create_app
from hub.web.auth import ROLES
from tests.hub.conftest import FakeClock, site_config
from tests.hub.logins import PASSWORD, headers, login, make_user
from tests.hub.webapp import hubless_context, raise_event


@pytest.fixture
def context(tmp_path: Path, db_url: str) -> WebContext:
    return hubless_context(site_config(tmp_path, database={"url": db_url}), FakeClock())


def _login(client: TestClient, username: str, password: str) -> tuple[int, dict[str, object]]:
    response = client.post("/api/auth/token", data={"username": username, "password": password})
    return response.status_code, response.json()


def test_the_store_and_the_web_agree_on_the_roles() -> None:
    assert accounts.ROLE_NAMES == ROLES


def test_passwords_are_argon2_hashes_and_log_in(context: WebContext) -> None:
    user = make_user(context, "desk", username="li")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    client = TestClient(create_app(context))
    status, answer = _login(client, "li", PASSWORD)
    assert status == 200 and answer["token_type"] == "bearer" and answer["expires_in"] == 1800
    assert answer["must_change_password"] is False
    me = client.get("/api/auth/me", headers=headers(str(answer["access_token"]))).json()
    assert (me["id"], me["role"], me["all_homes"]) == (user.id, "desk", True)


def test_wrong_password_and_unknown_user_get_the_same_answer(context: WebContext) -> None:
    make_user(context, "desk", username="li")
    client = TestClient(create_app(context))
    assert _login(client, "li", "not the password") == _login(client, "nobody", PASSWORD)
    assert _login(client, "li", "not the password")[0] == 401


def test_failed_logins_are_throttled_per_user_and_per_address(context: WebContext) -> None:
    assert isinstance(context.clock, FakeClock)
    make_user(context, "desk", username="li")
    client = TestClient(create_app(context))
    for _ in range(5):
        assert _login(client, "li", "wrong")[0] == 401
    limited = client.post("/api/auth/token", data={"username": "li", "password": PASSWORD})
    assert limited.status_code == 429  # even the right password, until the window passes
    assert 0 < int(limited.headers["Retry-After"]) <= 300
    context.clock.t += 301
    assert _login(client, "li", PASSWORD)[0] == 200
    for i in range(5):  # five user names from one address: the address is held too
        _login(client, f"guess-{i}", "wrong")
    assert _login(client, "li", PASSWORD)[0] == 429
    stats = client.get("/api/stats", headers=login(context, "integration")).json()["logins"]
    assert stats == {"ok": 1, "failed": 10, "limited": 2}


def test_a_session_token_expires_and_logout_ends_it(context: WebContext) -> None:
    assert isinstance(context.clock, FakeClock)
    make_user(context, "desk", username="li")
    client = TestClient(create_app(context))
    first = headers(str(_login(client, "li", PASSWORD)[1]["access_token"]))
    assert client.get("/api/alerts", headers=first).status_code == 200
    context.clock.t += accounts.SESSION_TTL_S + 1
    assert client.get("/api/alerts", headers=first).status_code == 401
    second = headers(str(_login(client, "li", PASSWORD)[1]["access_token"]))
    assert client.post("/api/auth/logout", headers=second).status_code == 204
    assert client.get("/api/alerts", headers=second).status_code == 401


def test_a_one_time_password_must_be_changed_first(context: WebContext) -> None:
    admin = login(context, "admin")
    client = TestClient(create_app(context))
    made = client.post("/api/users", headers=admin, json={
        "username": "zhang", "role": "caregiver", "person": "cg-a"})
    assert made.status_code == 201
    one_time = made.json()["password"]
    assert "password" not in client.get("/api/users", headers=admin).json()[0]
    status, answer = _login(client, "zhang", one_time)
    assert status == 200 and answer["must_change_password"] is True
    auth = headers(str(answer["access_token"]))
    refused = client.get("/api/alerts", headers=auth)
    assert refused.status_code == 403 and "/api/auth/password" in refused.json()["detail"]
    assert client.post("/api/auth/password", headers=auth, json={
        "current_password": one_time, "new_password": "short"}).status_code == 422
    assert client.post("/api/auth/password", headers=auth, json={
        "current_password": "wrong one", "new_password": "a new long password"}
    ).status_code == 403
    assert client.post("/api/auth/password", headers=auth, json={
        "current_password": one_time, "new_password": "a new long password"}).status_code == 204
    assert client.get("/api/alerts", headers=auth).status_code == 200
    assert client.get("/api/auth/me", headers=auth).json()["sites"] == ["town"]
    assert _login(client, "zhang", one_time)[0] == 401  # the one-time password worked once


def test_users_are_made_checked_reset_and_deactivated(context: WebContext) -> None:
    admin = login(context, "admin", username="boss")
    client = TestClient(create_app(context))
    assert client.post("/api/users", headers=admin, json={
        "username": "x", "role": "caregiver"}).status_code == 422  # a caregiver names a person
    assert client.post("/api/users", headers=admin, json={
        "username": "x", "role": "caregiver", "person": "nobody"}).status_code == 422
    assert client.post("/api/users", headers=admin, json={
        "username": "boss", "role": "desk"}).status_code == 409
    made = client.post("/api/users", headers=admin, json={
        "username": "li", "role": "desk"}).json()
    reset = client.post(f"/api/users/{made['id']}/reset-password", headers=admin).json()
    assert reset["password"] != made["password"] and reset["must_change_password"]
    assert _login(client, "li", made["password"])[0] == 401
    auth = headers(str(_login(client, "li", reset["password"])[1]["access_token"]))
    assert client.post(f"/api/users/{made['id']}/deactivate", headers=admin).status_code == 200
    assert client.get("/api/auth/me", headers=auth).status_code == 401  # its logins ended
    assert _login(client, "li", reset["password"])[0] == 401
    boss = client.get("/api/auth/me", headers=admin).json()["id"]
    assert client.post(f"/api/users/{boss}/deactivate", headers=admin).status_code == 409
    assert client.post("/api/users/usr_nobody/deactivate", headers=admin).status_code == 404


def test_integration_tokens_are_shown_once_kept_hashed_and_revocable(
        context: WebContext) -> None:
    admin = login(context, "admin")
    client = TestClient(create_app(context))
    issued = client.post("/api/tokens", headers=admin, json={"label": "county dashboard",
                                                             "sites": ["town"]})
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("bw_")
    with context.sessions() as session:
        row = session.get(AccessToken, issued.json()["id"])
        assert row is not None and row.digest == accounts.digest(token)
        texts = [str(v) for t in session.scalars(select(AccessToken))
                 for v in t.as_dict().values()] + [t.digest for t in session.scalars(
                     select(AccessToken))]
        assert token not in texts
    listed = client.get("/api/tokens?kind=integration", headers=admin).json()
    assert [t["label"] for t in listed] == ["county dashboard"] and "token" not in listed[0]
    raise_event(context, "home-1", "fall", context.clock.now())
    reads = client.get("/api/alerts", headers=headers(token))
    assert reads.status_code == 200 and len(reads.json()) == 1
    assert client.post(f"/api/alerts/{reads.json()[0]['id']}/ack", json={},
                       headers=headers(token)).status_code == 403  # integrations read
    assert client.post(f"/api/tokens/{issued.json()['id']}/revoke",
                       headers=admin).status_code == 200
    assert client.get("/api/alerts", headers=headers(token)).status_code == 401


def _cli_config(tmp_path: Path, db_url: str) -> Path:
    site_config(tmp_path, database={"url": db_url})  # the registry in the database
    path = tmp_path / "hub.toml"
    path.write_text(tomli_w.dumps({"database": {"url": db_url},
                                   "api": {"secret": "x" * 32}}))
    return path


def test_no_default_user_and_create_admin_prints_a_one_time_password(
        tmp_path: Path, db_url: str) -> None:
    config = _cli_config(tmp_path, db_url)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0  # nobody by default
    runner = CliRunner()
    made = runner.invoke(cli, ["hub", "create-admin", "--config", str(config)])
    assert made.exit_code == 0, made.output
    password = made.output.split("one-time password: ", 1)[1].split()[0]
    again = runner.invoke(cli, ["hub", "create-admin", "--config", str(config)])
    assert again.exit_code == 1 and "exists" in again.output
    context = hubless_context(site_config(tmp_path, database={"url": db_url}), FakeClock())
    client = TestClient(create_app(context))
    status, answer = _login(client, "admin", password)
    assert status == 200 and answer["must_change_password"] is True
    assert client.post("/api/auth/password", headers=headers(str(answer["access_token"])),
                       json={"current_password": password,
                             "new_password": "a strong new secret"}).status_code == 204
    assert _login(client, "admin", password)[0] == 401
    issued = runner.invoke(cli, ["hub", "issue-token", "--config", str(config),
                                 "--label", "grafana"])
    token = issued.output.strip().splitlines()[-1]
    assert client.get("/api/homes", headers=headers(token)).status_code == 200
    token_id = issued.output.split()[1]
    assert runner.invoke(cli, ["hub", "revoke-token", "--config", str(config),
                               token_id]).exit_code == 0
    assert client.get("/api/homes", headers=headers(token)).status_code == 401
    listed = runner.invoke(cli, ["hub", "list-users", "--config", str(config)])
    assert "admin  admin" in listed.output and password not in listed.output
    engine.dispose()
