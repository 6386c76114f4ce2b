"""What a page says to the caregiver woken at 3 am: in their language with the other beside
it, what happened with its evidence, who, where, since when, why it comes again, by when to
answer, and the links; the shape each channel can show; and logs that name nobody.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import apprise
import pytest
from apprise.manager_plugins import NotificationManager

from hub.alerts import AlertEngine
from hub.alerts.page_text import SMS_SEGMENT_UNITS, ucs2_units
from hub.db import Alert, Caregiver, Organisation, Resident, Site
from hub.pager import MARKDOWN_SCHEMES, SMS_SCHEMES, channel_style
from hub.registry import create_organisation, update_person
from hub.registry.models import OrganisationIn, PersonIn
from tests.hub.conftest import RecordingNotifier
from tests.hub.engine import fire, make, run_until

# Real apprise URL forms (they pass the registry's channel check).
DINGTALK = "dingtalk://" + "a" * 64 + "/"
FEISHU = "feishu://" + "b" * 36 + "/"
WECOM = "wecombot://" + "c" * 36
SMS = "smseagle://token@10.0.0.1/+8613900000002"
NAME, ADDRESS = "王桂荣", "青山路 12 号 3 单元 401"
HOMES = [{"id": "home-1", "site": "town", "address": ADDRESS, "resident": {"name": NAME}}]


def people(*extra: dict[str, Any], notify_a: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"id": "cg-a", "name": "张丽", "site": "town", "notify": notify_a or ["json://a/"]},
            {"id": "cg-b", "name": "Brown", "site": "town", "role": "backup",
             "notify": ["json://b/"]}, *extra]


def engine_for(tmp_path: Path, notifier: RecordingNotifier, **sections: Any) -> AlertEngine:
    sections.setdefault("homes", HOMES)
    sections.setdefault("caregivers", people())
    return make(tmp_path, notifier, **sections)


def sent_to(notifier: RecordingNotifier, url: str) -> list[tuple[str, str]]:
    return [(title, body) for to, title, body in notifier.sent if to == url]


async def test_a_page_says_what_with_evidence_who_where_since_and_the_deadline(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier)
    fire(engine, "home-1", "long_lie", "mat", {"lying_s": 245.0})
    await engine.process_due_pages()
    [(title, body)] = sent_to(notifier, "json://a/")
    assert title == "[紧急] 长时间倒地未起 / Lying on the floor for a long time — 王桂荣 · #1"
    lines = body.splitlines()
    # The fake clock starts at 2025-11-24 16:00 UTC: 00:00 the next day in Shanghai.
    assert lines[:4] == [
        "情况 What: 长时间倒地未起 — 在地上已 4 分钟 / "
        "Lying on the floor for a long time — on the floor for 4 min",
        "老人 Who: 王桂荣",
        f"地址 Where: {ADDRESS} (home-1)",
        "时间 Since: 00:00（0 秒前） / 00:00 (0 s ago)",
    ]
    # A town station: acknowledge within its 2 min, at the door within 15 min.
    assert lines[4] == ("期限 Deadline: 请在 00:02 前确认（目标 2 分钟）；"
                        "00:15 前到场（目标 15 分钟） / "
                        "acknowledge by 00:02 (2 min target); on site by 00:15 (15 min target)")
    assert lines[5].startswith("我来处理（确认） I am taking it (acknowledge): http://hub.test/ack/")
    assert lines[6].startswith("我的告警 Your alerts: http://hub.test/c/")


@pytest.mark.parametrize(("kind", "data", "zh", "en"), [
    ("call", {"button": 1}, "按下了呼叫按钮", "pressed the call button"),
    ("tachycardia", {"heart_rate_bpm": 132.0, "duration_s": 180},
     "心率 132，持续 3 分钟", "heart rate 132 for 3 min"),
    ("tachycardia", {"heart_rate_bpm": 131.6}, "心率 132", "heart rate 132"),
    ("apnea", {"duration_s": 25.0}, "已 25 秒无呼吸", "no breathing for 25 s"),
    ("not_returned", {"away_s": 2700.0},
     "夜间离床已 45 分钟", "out of bed for 45 min in the night"),
    ("bp_crisis", {"systolic_mmhg": 192, "diastolic_mmhg": 124},
     "血压 192/124 mmHg", "blood pressure 192/124 mmHg"),
])
async def test_the_evidence_is_in_plain_words_in_both_languages(
        tmp_path: Path, notifier: RecordingNotifier, kind: str, data: dict[str, Any], zh: str,
        en: str) -> None:
    engine = engine_for(tmp_path, notifier)
    fire(engine, "home-1", kind, "dev", data)
    await engine.process_due_pages()
    what = sent_to(notifier, "json://a/")[0][1].splitlines()[0]
    assert f"— {zh}" in what and f"— {en}" in what
    assert what.index(zh) < what.index(en)  # Chinese first


async def test_escalations_and_reminders_say_why_and_the_acknowledger_by_name(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier)
    alert = fire(engine, "home-1", "call", "btn")
    assert alert is not None
    await engine.process_due_pages()
    await run_until(engine, 181, step=5)  # reminders every 60 s; backup due at 180 s
    titles_a = [title for title, _ in sent_to(notifier, "json://a/")]
    assert titles_a[1].startswith("[紧急 · 提醒 1] ") and titles_a[2].startswith("[紧急 · 提醒 2] ")
    reminder = sent_to(notifier, "json://a/")[2][1]
    assert ("再次通知 Why again: 第 2 次提醒：仍无人确认 / "
            "reminder 2: still not acknowledged") in reminder
    assert "确认已超时（期限 00:02）" in reminder
    assert "acknowledgement overdue since 00:02" in reminder
    [(title_b, body_b)] = sent_to(notifier, "json://b/")
    assert title_b.startswith("[紧急 · 已升级] 呼叫按钮被按下 / Call button pressed")
    assert ("第 1 级（备班护理员）：3 分钟内无人确认 / "
            "level 1 (backup caregiver): nobody acknowledged within 3 min") in body_b
    engine.transition(alert.id, "acknowledged", "cg-a")
    with engine.sessions() as session:
        row, person = session.get(Alert, alert.id), session.get(Caregiver, "cg-b")
        assert row is not None and person is not None
        _, body = engine.compose(session, row, person, "sla_arrival")
    assert "已由 张丽 确认 / acknowledged by 张丽" in body and "cg-a" not in body
    assert "未在目标时间 15 分钟内到场 / nobody on site within the 15 min target" in body


async def test_a_village_station_has_30_minutes_to_the_door(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, sites=[{"id": "town", "name": "Village station",
                                                    "kind": "rural"}])
    fire(engine, "home-1", "fall", "mat")
    await engine.process_due_pages()
    assert "00:30 前到场（目标 30 分钟）" in notifier.sent[0][2]


async def test_the_resident_s_age_comes_from_the_registry(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier)
    with engine.sessions() as session:
        for resident in session.query(Resident).filter_by(home_id="home-1"):
            resident.birth_year = 1943
        session.commit()
    fire(engine, "home-1", "call", "btn")
    await engine.process_due_pages()
    assert "老人 Who: 王桂荣（82 岁） / 王桂荣 (age 82)" in notifier.sent[0][2]


def _set_language(engine: AlertEngine, person: str, language: str | None) -> None:
    with engine.sessions() as session:
        update_person(session, person, {"language": language})
        session.commit()


def _organisation(engine: AlertEngine, language: str) -> None:
    with engine.sessions() as session:
        create_organisation(session, OrganisationIn(id="org", name="Org", language=language))
        site = session.get(Site, "town")
        assert site is not None
        site.organisation_id = "org"
        session.commit()


async def test_the_person_s_language_comes_first_then_the_organisation_s(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier)
    _organisation(engine, "en")
    _set_language(engine, "cg-b", "zh-CN")  # a person's own language wins
    fire(engine, "home-1", "call", "btn")
    await engine.process_due_pages()
    await run_until(engine, 181, step=5)
    title_a, body_a = sent_to(notifier, "json://a/")[0]
    assert title_a == "[URGENT] Call button pressed / 呼叫按钮被按下 — 王桂荣 · #1"
    assert body_a.splitlines()[0] == ("What 情况: Call button pressed — pressed the call button"
                                      " / 呼叫按钮被按下 — 按下了呼叫按钮")
    title_b, _ = sent_to(notifier, "json://b/")[0]
    assert title_b.startswith("[紧急 · 已升级] 呼叫按钮被按下 / Call button pressed")


async def test_with_no_language_anywhere_pages_are_in_chinese(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier)
    with engine.sessions() as session:
        assert session.query(Organisation).count() == 0
    fire(engine, "home-1", "call", "btn")
    await engine.process_due_pages()
    assert notifier.sent[0][1].startswith("[紧急] 呼叫按钮被按下 / Call button pressed")


async def test_each_channel_gets_the_shape_it_can_show(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    notifier.failing.update({DINGTALK, FEISHU, WECOM})  # each is tried, in order, then SMS
    engine = engine_for(tmp_path, notifier,
                        caregivers=people(notify_a=[DINGTALK, FEISHU, WECOM, SMS]))
    captured: dict[str, tuple[str, str]] = {}
    deliver = notifier.deliver

    async def spy(url: str, title: str, body: str) -> Any:
        captured[url] = (title, body)
        return await deliver(url, title, body)

    notifier.deliver = spy  # type: ignore[method-assign]
    fire(engine, "home-1", "long_lie", "mat", {"lying_s": 245.0})
    await engine.process_due_pages()
    for url in (DINGTALK, FEISHU):
        title, body = captured[url]
        assert title.startswith("[紧急] 长时间倒地未起")
        assert "- **情况 What**: 长时间倒地未起 — 在地上已 4 分钟" in body
        assert "[我来处理（确认） I am taking it (acknowledge)](http://hub.test/ack/" in body
    title, body = captured[WECOM]
    assert "**" not in body and body.startswith("情况 What: 长时间倒地未起")
    title, body = captured[SMS]
    assert title == ""  # gateways put a title in the text: the first line is the one
    first, second, link = body.splitlines()
    assert first == f"长时间倒地未起：{NAME}，{ADDRESS}"
    assert ucs2_units(first) <= SMS_SEGMENT_UNITS
    assert second.startswith("在地上已 4 分钟；00:00；请在 00:02 前确认")
    assert link.startswith("确认：http://hub.test/ack/")


async def test_an_sms_first_line_keeps_the_kind_when_name_and_address_are_long(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    address = ("新疆维吾尔自治区乌鲁木齐市天山区解放南路街道幸福小区二期"
               "十七号楼三单元五楼五零二室（进门左转第二个楼梯）")
    name = "阿卜杜热合曼·买买提艾力·吐尔逊"
    engine = engine_for(tmp_path, notifier, caregivers=people(notify_a=[SMS]), homes=[
        {"id": "home-1", "site": "town", "address": address, "resident": {"name": name}}])
    fire(engine, "home-1", "not_returned", "bed", {"away_s": 2700.0})
    await engine.process_due_pages()
    first = notifier.sent[0][2].splitlines()[0]
    assert ucs2_units(first) <= SMS_SEGMENT_UNITS
    assert first.startswith("夜间离床未归：阿卜杜热合曼") and first.endswith("…")
    assert "新疆维吾尔自治区" in first  # the address is cut, not dropped


def test_the_channel_styles_match_what_apprise_can_do() -> None:
    known = set(NotificationManager().schemas())
    assert SMS_SCHEMES <= known, SMS_SCHEMES - known
    for url in (DINGTALK, FEISHU):
        plugin = apprise.Apprise.instantiate(url)
        assert plugin is not None and plugin.secure_protocol in MARKDOWN_SCHEMES
        assert plugin.resolve_format(apprise.NotifyFormat.MARKDOWN) == \
            apprise.NotifyFormat.MARKDOWN
        assert channel_style(url) == "markdown"
    wecom = apprise.Apprise.instantiate(WECOM)
    assert wecom is not None  # apprise's WeCom bot sends text only: it gets plain text
    assert wecom.resolve_format(apprise.NotifyFormat.MARKDOWN) == apprise.NotifyFormat.TEXT
    assert channel_style(WECOM) == "plain" and channel_style(SMS) == "sms"
    assert channel_style("TWILIO://x") == "sms" and channel_style("not a url") == "plain"


async def test_the_hub_s_own_alerts_and_unknown_homes_say_so_in_both_languages(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier)
    with engine.sessions() as session:
        engine.raise_hub_alert(session, "influx_down", engine.clock.now(), {"error": "refused"})
        engine.note_unknown_home(session, "home-x", "events")
        session.commit()
    await engine.process_due_pages()
    bodies = {url: body for url, _, body in notifier.sent}
    assert "老人 Who: 中心系统本身 / the hub itself" in bodies["json://tech/"]
    assert "读数 Readings: " in bodies["json://tech/"] and "error=refused" in bodies["json://tech/"]
    desk = bodies["json://desk/"]
    assert "未登记的家庭 / unregistered home" in desk
    assert "home-x（未登记：请在中心登记） / home-x (not in the registry" in desk


async def test_pages_and_state_changes_are_logged_by_id_never_by_name(
        tmp_path: Path, notifier: RecordingNotifier, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    engine = engine_for(tmp_path, notifier, caregivers=people(notify_a=[SMS, "json://a/"]))
    notifier.failing.add(SMS)
    alert = fire(engine, "home-1", "call", "btn")
    assert alert is not None
    await engine.process_due_pages()
    engine.transition(alert.id, "acknowledged", "cg-a")
    engine.transition(alert.id, "resolved", "cg-a", resolution="real")
    text = caplog.text
    assert f"alert #{alert.id} (call) page alert to cg-a on smseagle: failed (refused)" in text
    assert f"alert #{alert.id} (call) page alert to cg-a on json: delivered" in text
    assert f"alert #{alert.id} (call, home-1) acknowledged by cg-a" in text
    assert f"alert #{alert.id} (call, home-1) resolved by cg-a" in text
    for secret in (NAME, ADDRESS, "张丽", "token@"):
        assert secret not in text


def test_a_language_nobody_translated_is_refused_where_it_is_entered() -> None:
    with pytest.raises(ValueError, match="unsupported language 'fr'"):
        PersonIn(name="x", role="oncall", site="town", notify=["json://x/"], language="fr")
    assert PersonIn(name="x", role="oncall", site="town", notify=["json://x/"],
                    language="en-GB").language == "en"
    assert OrganisationIn(id="o", name="O").language == "zh_CN"


def test_languages_through_the_api_person_patch_and_organisation(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from hub.web import create_app
    from hub.web.auth import Principal, get_principal
    from tests.hub.conftest import site_config
    from tests.hub.webapp import hubless_context

    app = create_app(hubless_context(site_config(tmp_path)))
    app.dependency_overrides[get_principal] = lambda: Principal(id="u-admin", role="admin")
    client = TestClient(app)
    made = client.post("/api/registry/people", json={
        "name": "Li", "role": "oncall", "site": "town", "notify": ["json://li/"],
        "language": "en-US"})
    assert made.status_code == 201, made.text
    assert made.json()["language"] == "en"
    refused = client.patch(f"/api/registry/people/{made.json()['id']}", json={"language": "fr"})
    assert refused.status_code == 422
    assert "unsupported language 'fr' (expected one of zh_CN, en)" in refused.text
    unset = client.patch(f"/api/registry/people/{made.json()['id']}", json={"language": None})
    assert unset.status_code == 200 and unset.json()["language"] is None
    org = client.post("/api/registry/organisations", json={"id": "org", "name": "Org"})
    assert org.status_code == 201 and org.json()["language"] == "zh_CN"
    bad = client.patch("/api/registry/organisations/org", json={"language": "de-DE"})
    assert bad.status_code == 422 and "unsupported language 'de-DE'" in bad.text


def test_the_registry_file_carries_a_person_s_language(tmp_path: Path) -> None:
    from hub.config import load_registry
    from tests.hub.conftest import import_into

    sample = Path(__file__).resolve().parents[2] / "examples" / "hub" / "registry.toml"
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    import_into(url, load_registry(sample))
    from hub.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        huang, zhang = session.get(Caregiver, "cg-huang"), session.get(Caregiver, "cg-zhang")
        assert huang is not None and zhang is not None
        assert (huang.language, zhang.language) == ("en", None)
    engine.dispose()


def test_the_hub_logs_http_client_requests_only_when_they_go_wrong() -> None:
    import subprocess
    import sys

    # In a fresh interpreter, as `bedwatch hub run` sets logging up.
    script = ("import logging; from bedwatch.cli import _logging; _logging(False); "
              "print([logging.getLogger(n).getEffectiveLevel() for n in "
              "('httpx', 'httpcore', 'urllib3', 'hub.alerts.records', 'hub.alerts.delivery')])")
    levels = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=60).stdout.strip()
    # HTTP client request lines: WARNING; the alert engine's changes and pages: INFO.
    assert levels == str([logging.WARNING] * 3 + [logging.INFO] * 2)
