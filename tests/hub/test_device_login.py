"""A caregiver's phone: a link becomes a long-lived, revocable device login; a link that no
longer works shows a page in Chinese and English (never JSON) with a way to a fresh link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.db import Alert, AuditEntry, Caregiver
from hub.web import WebContext, create_app
from hub.web.deps import DEVICE_COOKIE
from tests.hub.conftest import FakeClock, RecordingNotifier, site_config
from tests.hub.logins import PASSWORD, login, make_user
from tests.hub.webapp import hubless_context, raise_event

DAY = 24 * 3600.0


@pytest.fixture
def context(tmp_path: Path, db_url: str) -> WebContext:
    return hubless_context(site_config(tmp_path, database={"url": db_url}), FakeClock())


def _fall(context: WebContext) -> int:
    raise_event(context, "home-1", "fall", context.clock.now())
    with context.sessions() as session:
        return session.scalars(select(Alert.id)).one()


def _path(link: str) -> str:
    return link.split("http://hub.test", 1)[1]


def _advance(context: WebContext, seconds: float) -> None:
    assert isinstance(context.clock, FakeClock)
    context.clock.t += seconds


def _sent(context: WebContext) -> list[tuple[str, str, str]]:
    notifier = context.engine.notifier
    assert isinstance(notifier, RecordingNotifier)
    return notifier.sent


def _is_problem_page(html: str) -> None:
    assert '<html lang="zh-CN">' in html and "无法打开" in html and "Cannot open" in html


def test_a_link_becomes_a_device_login_that_outlives_it(context: WebContext) -> None:
    alert_id = _fall(context)
    client = TestClient(create_app(context), follow_redirects=False)
    link = _path(context.engine.desk_link("cg-a"))
    page = client.get(link)
    assert page.status_code == 200 and 'id="keep"' in page.text
    assert client.get("/c").status_code == 401  # not logged in yet
    kept = client.post(f"{link}/device")
    assert (kept.status_code, kept.headers["location"]) == (303, "/c")
    cookie = kept.headers["set-cookie"]
    assert cookie.startswith(f"{DEVICE_COOKIE}=bw_") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Secure" not in cookie  # plain http here
    assert client.get(link).headers.get("location") == "/c"  # the same person: go to /c

    _advance(context, 30 * DAY)  # the link is long dead; the phone is still logged in
    assert client.get(link).headers.get("location") == "/c"
    assert client.get("/c").status_code == 200
    alerts = client.get("/c/alerts").json()
    assert alerts["caregiver"] == "A" and [a["id"] for a in alerts["alerts"]] == [alert_id]
    acted = client.post(f"/c/alerts/{alert_id}/ack", json={})
    assert acted.status_code == 200 and acted.json()["alerts"][0]["acknowledged_by"] == "cg-a"

    admin = login(context, "admin")
    [device] = client.get("/api/tokens?kind=device", headers=admin).json()
    assert device["person"] == "cg-a" and device["last_used_at"] == context.clock.now()
    assert "digest" not in device and "token" not in device
    client.post(f"/api/tokens/{device['id']}/revoke", headers=admin)
    ended = client.get("/c")
    assert ended.status_code == 401 and ended.headers["content-type"].startswith("text/html")
    _is_problem_page(ended.text)
    assert "此手机上的登录已结束" in ended.text and 'action="/link/renew"' in ended.text
    assert 'href="/c/login"' in ended.text  # or log in with a password
    assert client.get("/c/alerts").status_code == 401
    assert client.post(f"/c/alerts/{alert_id}/resolve", json={}).status_code == 401


def test_a_cookie_on_https_is_secure_and_a_removed_person_is_logged_out(
        tmp_path: Path) -> None:
    context = hubless_context(site_config(tmp_path, api={
        "secret": "x" * 32, "public_url": "https://hub.test"}), FakeClock())
    client = TestClient(create_app(context), follow_redirects=False)
    link = context.engine.desk_link("cg-a").split("https://hub.test", 1)[1]
    cookie = client.post(f"{link}/device").headers["set-cookie"]
    assert "Secure" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    client.cookies.set(DEVICE_COOKIE, token)  # the test client speaks http
    assert client.get("/c/alerts").status_code == 200
    with context.sessions() as session:
        person = session.get(Caregiver, "cg-a")
        assert person is not None
        person.active = False
        session.commit()
    assert client.get("/c/alerts").status_code == 401


def test_an_expired_link_shows_the_alert_and_sends_a_fresh_one(context: WebContext) -> None:
    alert_id = _fall(context)
    client = TestClient(create_app(context), follow_redirects=False)
    ack = _path(context.engine.ack_link(alert_id, "cg-a"))
    page = _path(context.engine.desk_link("cg-a"))
    _advance(context, DAY + 1)
    for link in (ack, page):
        expired = client.get(link)
        assert expired.status_code == 410, link
        _is_problem_page(expired.text)
        assert "此链接已过期" in expired.text and "This link has expired" in expired.text
        assert "给我发送新链接" in expired.text and "Send me a fresh link" in expired.text
    shown = client.get(ack).text
    assert f"告警 #{alert_id}" in shown and "跌倒" in shown and "待处理" in shown
    assert client.post(ack).status_code == 410  # nor does the button act any more

    renewed = client.post("/link/renew", data={"token": ack.rsplit("/", 1)[1]})
    assert renewed.status_code == 200 and "新的链接已发送" in renewed.text
    [(url, title, body)] = _sent(context)
    assert url == "json://a/" and "新链接" in title and "fresh link" in body
    fresh = re.search(r"http://hub\.test(/c/\S+)", body)
    assert fresh is not None
    assert client.get(fresh.group(1)).status_code == 200  # the fresh link works
    with context.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "link_resent")).one()
        assert (entry.actor, entry.detail["delivered"]) == ("cg-a", True)


def test_asking_for_a_fresh_link_tells_nothing_and_is_throttled(context: WebContext) -> None:
    client = TestClient(create_app(context), follow_redirects=False)
    old = _path(context.engine.desk_link("cg-a")).rsplit("/", 1)[1]
    _advance(context, DAY + 1)
    forged = old[:-4] + "AAAA"
    answers = {client.post("/link/renew", data=data).text
               for data in ({"token": forged}, {"token": "junk"}, {}, {"token": old})}
    assert len(answers) == 1  # the same page whatever was asked
    for _ in range(5):
        client.post("/link/renew", data={"token": old})
    assert len(_sent(context)) == 3  # at most three fresh links per person in 15 minutes
    for _ in range(5):  # and at most ten requests from one address
        client.post("/link/renew", data={"token": old})
    _advance(context, 901)
    client.post("/link/renew", data={"token": old})
    assert len(_sent(context)) == 4


def test_link_pages_are_html_in_both_languages(context: WebContext) -> None:
    alert_id = _fall(context)
    client = TestClient(create_app(context), follow_redirects=False)
    ack = _path(context.engine.ack_link(alert_id, "cg-a"))
    form = client.get(ack)
    assert form.status_code == 200 and '<html lang="zh-CN">' in form.text
    assert "我来处理" in form.text and "acknowledge" in form.text
    assert "在此手机上保持登录" in form.text  # the offer of a device login
    for path, status in ((_path(context.engine.ack_link(99, "cg-a")), 404),
                         ("/c/not-a-link", 403), ("/ack/not.a-link", 403),
                         (_path(context.engine.desk_link("cg-a")).replace("/c/", "/ack/"), 403),
                         (_path(context.engine.ack_link(alert_id, "nobody")), 403)):
        answer = client.get(path)
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html"), path
        _is_problem_page(answer.text)
    done = client.post(ack)
    assert "已确认" in done.text and "Acknowledged" in done.text
    kept = client.post(f"{ack}/device")
    assert kept.headers["location"] == "/c" and DEVICE_COOKIE in kept.headers["set-cookie"]
    assert "在此手机上保持登录" not in client.get(ack).text  # this phone already is


def test_a_caregiver_logs_in_on_the_phone_with_a_password(context: WebContext) -> None:
    make_user(context, "caregiver", username="zhang", person="cg-a")
    make_user(context, "desk", username="li")
    client = TestClient(create_app(context), follow_redirects=False)
    form = client.get("/c/login")
    assert form.status_code == 200 and "用户名" in form.text and "User name" in form.text
    wrong = client.post("/c/login", data={"username": "zhang", "password": "wrong"})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    desk = client.post("/c/login", data={"username": "li", "password": PASSWORD})
    assert desk.status_code == 403 and "护理人员" in desk.text
    ok = client.post("/c/login", data={"username": "zhang", "password": PASSWORD})
    assert ok.status_code == 303 and ok.headers["location"] == "/c"
    assert client.get("/c/alerts").json()["caregiver"] == "A"
    out = client.post("/c/logout")
    assert out.status_code == 200 and "已退出" in out.text
    assert client.get("/c/alerts").status_code == 401
