"""The caregiver's phone page: what, who, where, who else, time left and whom to call for each
alert, in the reader's language; actions that can be sent twice; an acknowledge link that
never offers to acknowledge again; and every broken link answered with a page, never JSON."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient

from hub.config import InfluxSection
from hub.db import Caregiver
from hub.web import WebContext, create_app
from hub.web.vitals import VitalsReader
from rig.stack import InfluxDB
from tests.hub.conftest import FakeClock
from tests.hub.phonesite import ADDRESS_1, LAT, LON, advance, open_alert, station

DAY = 24 * 3600.0


@pytest.fixture
def context(tmp_path: Path) -> WebContext:
    return station(tmp_path, FakeClock())


def _path(link: str) -> str:
    return link.split("http://hub.test", 1)[1]


def _alerts(client: TestClient, context: WebContext, person: str,
            **headers: str) -> dict[str, Any]:
    answer = client.get(f"{_path(context.engine.desk_link(person))}/alerts", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _one(data: dict[str, Any], alert_id: int) -> dict[str, Any]:
    [alert] = [a for a in data["alerts"] if a["id"] == alert_id]
    return dict(alert)


def test_an_alert_says_what_who_where_and_whom_to_call(context: WebContext) -> None:
    now = context.clock.now()
    alert_id = open_alert(context, "home-1", "long_lie", {"since": now - 240, "source": "mat"})
    client = TestClient(create_app(context))
    data = _alerts(client, context, "cg-zhang")
    assert data["lang"] == "zh_CN" and data["caregiver"] == "张护理员"
    alert = _one(data, alert_id)
    assert (alert["what"], alert["evidence"]) == ("长时间倒地未起", "在地上已 4 分钟")
    assert alert["state_text"] == "待处理" and alert["since"]["age"] == "0 秒前"
    [who] = alert["who"]["people"]
    age = datetime.fromtimestamp(now, ZoneInfo("Asia/Shanghai")).year - 1941
    assert (who["name"], who["age"], who["sex"]) == ("王桂荣", f"{age} 岁", "女")
    assert who["care"] == ["独居", "认知障碍"]
    assert (who["conditions"], who["allergies"]) == ("高血压，2 型糖尿病", "青霉素")
    assert "华法林" in who["notes"]
    where = alert["where"]
    assert where["address"] == ADDRESS_1 and "1234#" in where["door"] and "501" in where["key"]
    url = urlsplit(where["map"])
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("uri.amap.com", "/marker")
    assert query["position"] == [f"{LON},{LAT}"] and query["coordinate"] == ["wgs84"]
    assert query["name"] == ["王桂荣"]
    calls = {c["label"]: (c["name"], c["tel"]) for c in alert["calls"]}
    assert calls == {"老人本人": ("王桂荣", "tel:13800271234"),
                     "家中电话": ("王桂荣", "tel:02786881234"),
                     "家属": ("王小明（儿子）", "tel:+8613911112222"),
                     "服务站": ("青山服务站 · 刘站长", "tel:02786000001")}
    sla = {s["kind"]: s for s in alert["sla"]}
    assert sla["arrival"]["label"] == "15 分钟内到场"  # an urban station
    assert sla["arrival"]["due"] == pytest.approx(now + 900)
    assert sla["ack"]["label"] == "2 分钟内确认" and sla["ack"]["due"] == pytest.approx(now + 120)
    assert alert["escalation"]["text"] == "" and alert["actions"][:2] == ["view", "ack"]
    assert alert["vitals"] is None  # no InfluxDB here: the page shows "—"


@pytest.mark.parametrize(("kind", "data", "zh", "en"), [
    ("call", {"button": 100}, "按下了呼叫按钮", "Pressed the call button"),
    ("tachycardia", {"heart_rate_bpm": 132.0}, "心率 132，持续 3 分钟",
     "Heart rate 132, for 3 min"),
    ("apnea", {"duration_s": 25.0}, "呼吸停止 25 秒", "No breathing for 25 s"),
    ("bp_crisis", {"systolic_mmhg": 186, "diastolic_mmhg": 121}, "血压 186/121 mmHg",
     "Blood pressure 186/121 mmHg"),
])
def test_the_evidence_reads_in_plain_words(context: WebContext, kind: str,
                                           data: dict[str, Any], zh: str, en: str) -> None:
    alert_id = open_alert(context, "home-1", kind, data, ago_s=180)
    client = TestClient(create_app(context))
    assert _one(_alerts(client, context, "cg-zhang"), alert_id)["evidence"] == zh
    assert _one(_alerts(client, context, "cg-en"), alert_id)["evidence"] == en


def test_the_page_is_in_the_readers_language_with_a_switch(context: WebContext) -> None:
    alert_id = open_alert(context, "home-1", "fall", {"source": "mat"})
    client = TestClient(create_app(context))
    english = _one(_alerts(client, context, "cg-en"), alert_id)  # her registered language
    assert (english["what"], english["state_text"]) == ("Fall detected", "open")
    assert english["calls"][0]["label"] == "Resident"
    # No language of their own: the phone's, else Simplified Chinese.
    assert _alerts(client, context, "cg-li", **{"accept-language": "en-US,en;q=0.9"})[
        "lang"] == "en"
    assert _alerts(client, context, "cg-li")["lang"] == "zh_CN"
    page = client.get(_path(context.engine.desk_link("cg-zhang")))
    assert '<html lang="zh-CN">' in page.text and "我的告警" in page.text
    assert '"label": "English"' in page.text  # the switch
    assert "I am taking it" not in page.text  # one language on the phone page
    switched = client.get(_path(context.engine.desk_link("cg-zhang")) + "?lang=en")
    assert '<html lang="en">' in switched.text and "I am taking it" in switched.text
    assert "bw_lang=en" in switched.headers["set-cookie"]
    assert _alerts(client, context, "cg-zhang")["lang"] == "en"  # the choice is kept


def test_the_residents_file_is_for_the_station_staff_only(context: WebContext) -> None:
    alert_id = open_alert(context, "home-1", "call")
    client = TestClient(create_app(context))
    family = _one(_alerts(client, context, "fam-wang"), alert_id)
    assert family["who"]["people"] == [{"name": "王桂荣"}]
    assert family["where"]["door"] == family["where"]["key"] == ""
    assert family["where"]["address"] == ADDRESS_1  # where to go, yes
    assert _alerts(client, context, "cg-zhao")["alerts"] == []  # another station's home


def test_an_escalated_alert_says_its_level_reminders_and_who_else_is_on_it(
        context: WebContext) -> None:
    alert_id = open_alert(context, "home-1", "call")
    advance(context, 200)  # past the backup's step (180 s) and three reminders (60 s)
    client = TestClient(create_app(context))
    alert = _one(_alerts(client, context, "cg-zhang"), alert_id)
    assert alert["escalation"]["level"] == 1
    assert alert["escalation"]["text"] == "已升级到第 2 级：后备护理员"
    assert alert["escalation"]["reminders_text"] == "已提醒 3 次"
    assert "李护理员" in alert["others"] and "张护理员" not in alert["others"]
    ack = {s["kind"]: s for s in alert["sla"]}["ack"]
    assert ack["due"] < context.clock.now()  # overdue: the page counts it up in red


def test_actions_may_be_sent_twice_and_name_who_took_the_alert(context: WebContext) -> None:
    alert_id = open_alert(context, "home-1", "fall")
    client = TestClient(create_app(context))
    link = _path(context.engine.desk_link("cg-zhang"))
    first = client.post(f"{link}/alerts/{alert_id}/ack", json={})
    again = client.post(f"{link}/alerts/{alert_id}/ack", json={})  # a retried, queued tap
    assert first.status_code == again.status_code == 200
    assert first.json()["result"]["applied"] and not again.json()["result"]["applied"]
    assert again.json()["result"]["state"] == "acknowledged"
    seen_by_li = _one(_alerts(client, context, "cg-li"), alert_id)
    assert seen_by_li["acknowledged_name"] == "张护理员" and not seen_by_li["mine"]
    assert _one(again.json(), alert_id)["mine"]
    done = {"resolution": "false_alarm", "note": "毯子滑到地垫上"}
    assert client.post(f"{link}/alerts/{alert_id}/resolve", json=done).json()["result"][
        "applied"]
    late = client.post(f"{link}/alerts/{alert_id}/on_site", json={})
    assert late.status_code == 200 and late.json()["result"] == {
        "alert": alert_id, "action": "on_site", "applied": False, "state": "resolved",
        "at": context.clock.now()}


def test_the_acknowledge_page_never_offers_to_acknowledge_again(context: WebContext) -> None:
    alert_id = open_alert(context, "home-1", "call")
    client = TestClient(create_app(context), follow_redirects=False)
    mine = _path(context.engine.ack_link(alert_id, "cg-zhang"))
    theirs = _path(context.engine.ack_link(alert_id, "cg-li"))
    assert 'data-testid="ack"' in client.get(mine).text
    done = client.post(mine)
    assert "已确认。呼叫已停止" in done.text and 'data-testid="ack"' not in done.text
    for page in (client.get(mine), client.get(theirs), client.post(theirs)):
        assert page.status_code == 200
        assert 'data-testid="ack"' not in page.text and "已确认" in page.text
        assert "张护理员" in page.text and "cg-zhang" not in page.text
    english = client.get(_path(context.engine.ack_link(alert_id, "cg-en"))).text
    assert '<html lang="en">' in english and 'data-testid="ack"' not in english
    assert english.index("Taken by 张护理员 at") < english.index("已由 张护理员 于")


def _problem(answer: httpx.Response, status: int, lang: str, *texts: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    tag = "zh-CN" if lang == "zh_CN" else "en"
    body = answer.text
    assert f'<html lang="{tag}">' in body and '{"detail"' not in body
    for text in texts:
        assert text in body, text
    return body


def test_every_broken_link_is_a_page_in_the_readers_language(context: WebContext) -> None:
    alert_id = open_alert(context, "home-1", "fall")
    client = TestClient(create_app(context), follow_redirects=False)
    ack_en = _path(context.engine.ack_link(alert_id, "cg-en"))
    page_en = _path(context.engine.desk_link("cg-en"))
    ack_zh = _path(context.engine.ack_link(alert_id, "cg-zhang"))
    other = open_alert(context, "home-1", "call")
    taken = _path(context.engine.ack_link(other, "cg-zhang"))
    assert client.post(taken).status_code == 200
    context.clock.t += DAY + 1  # type: ignore[attr-defined]
    # An expired link of an alert taken since: its state now, not the one it was sent with.
    _problem(client.get(taken), 410, "zh_CN", "此链接已过期。", "已确认")
    # Expired: her language first, the alert's state now, and a way to a fresh link.
    body = _problem(client.get(ack_en), 410, "en", "This link has expired.", "此链接已过期。",
                    "Send me a fresh link", 'action="/link/renew"')
    assert body.index("This link has expired.") < body.index("此链接已过期。")
    assert f"Alert #{alert_id} (Fall detected) is now:" in body
    assert f"告警 #{alert_id}（检测到跌倒）当前状态：" in body
    _problem(client.get(page_en), 410, "en", "This link has expired.", "Send me a fresh link")
    _problem(client.get(ack_zh), 410, "zh_CN", "此链接已过期。", "待处理", "给我发送新链接")
    # Damaged: nobody is known, so the phone's language, else Chinese.
    forged = ack_zh[:-4] + ("AAAA" if not ack_zh.endswith("AAAA") else "BBBB")
    _problem(client.get(forged), 403, "zh_CN", "此链接无效或已损坏。", "给我发送新链接")
    _problem(client.get(forged, headers={"accept-language": "en"}), 403, "en",
             "This link is not valid or was damaged.")
    _problem(client.get("/c/not-a-link/alerts"), 403, "zh_CN", "此链接无效")
    # The person was removed: no fresh link, whom to ask instead, in their language.
    context.clock.t -= DAY + 1  # type: ignore[attr-defined]
    with context.sessions() as session:
        person = session.get(Caregiver, "cg-en")
        assert person is not None
        person.active = False
        session.commit()
    body = _problem(client.get(ack_en), 403, "en", "no longer registered", "call your station")
    assert "/link/renew" not in body and "Fall detected" not in body
    _problem(client.post(f"{page_en}/alerts/{alert_id}/ack", json={}), 403, "en",
             "no longer registered")
    # A phone whose login ended, asked in English.
    ended = client.get("/c", headers={"accept-language": "en"},
                       cookies={"bw_device": "bw_nothing"})
    _problem(ended, 401, "en", "The login on this phone has ended")


def test_vital_signs_come_from_influxdb_and_never_hold_up_the_page(
        influxdb: InfluxDB) -> None:
    database = f"vitals_{int(time.time() * 1000)}"
    now_ns = int(time.time() * 1e9)
    urllib.request.urlopen(urllib.request.Request(
        f"{influxdb.url}/query", data=f"q=CREATE DATABASE {database}".encode(), method="POST"))
    lines = (f"vitals,device=bed,home=home-1 heart_rate_bpm=71,breathing_rate_bpm=15 "
             f"{now_ns - 120 * 10**9}\n"
             f"vitals,device=bed,home=home-1 heart_rate_bpm=74,breathing_rate_bpm=16 "
             f"{now_ns - 60 * 10**9}\n"
             f"bp,device=cuff,home=home-1 systolic_mmhg=148,diastolic_mmhg=92 "
             f"{now_ns - 3600 * 10**9}\n")
    urllib.request.urlopen(urllib.request.Request(
        f"{influxdb.url}/write?db={database}", data=lines.encode(), method="POST"))
    # A generous bound here: two shared cores may be slow to answer the first query.
    reader = VitalsReader(InfluxSection(url=influxdb.url, database=database), timeout_s=15)
    found = asyncio.run(reader.latest(["home-1", "home-2"]))
    one = found["home-1"]
    assert one is not None
    assert one["heart_rate"]["value"] == 74 and one["breathing_rate"]["value"] == 16
    assert (one["blood_pressure"]["systolic"], one["blood_pressure"]["diastolic"]) == (148, 92)
    assert one["heart_rate"]["t"] == pytest.approx(now_ns / 1e9 - 60, abs=0.01)
    assert found["home-2"] == {}  # known to have none
    nowhere = VitalsReader(InfluxSection(url="http://127.0.0.1:9", database=database))
    assert asyncio.run(nowhere.latest(["home-1"])) == {"home-1": None}  # shown as "—"
