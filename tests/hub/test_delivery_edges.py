"""Pages out, at the edges: the backoff of a page nobody can take and when it is given up,
channels tried in order and no further than the first that takes it, what a page says to
whom, and the links it carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from hub import tokens
from hub.alerts import MAX_PAGE_ATTEMPTS, AlertEngine
from hub.db import Alert, AuditEntry, Page
from tests.hub.conftest import RecordingNotifier
from tests.hub.engine import clock_of, deliveries, fire, make, run_until, who

ONE_PERSON = [{"id": "cg-a", "name": "A", "site": "town",
               "notify": ["json://a-sms/", "json://a-mail/", "json://a-chat/"]}]


def pages(engine: AlertEngine) -> list[Page]:
    with engine.sessions() as session:
        return list(session.scalars(select(Page).order_by(Page.id)))


async def test_a_page_nobody_can_take_backs_off_from_5_s_to_5_min_and_stops_after_12_tries(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, watchdog={"page_failures_before_alert": 100},
                  caregivers=[{"id": "cg-a", "name": "A", "site": "town",
                               "notify": ["json://a/"]}])
    notifier.failing.add("json://a/")
    clock = clock_of(engine)
    start = clock.t
    fire(engine, "home-1", "fall")
    while clock.t < start + 2400:  # pages only: no reminders are queued
        await engine.process_due_pages()
        clock.t += 0.5
    tries = [round(d.at - start, 1) for d in deliveries(engine)]
    assert tries == [0, 5, 15, 35, 75, 155, 315, 615, 915, 1215, 1515, 1815]
    assert len(tries) == MAX_PAGE_ATTEMPTS == 12
    [page] = pages(engine)
    assert (page.state, page.attempts) == ("failed", 12)
    with engine.sessions() as session:
        failed = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "page_failed")).one()
    assert failed.detail == {"caregiver": "cg-a", "attempts": 12}
    assert engine.counters["delivery_failures"] == 12 and engine.counters["pages_sent"] == 0


async def test_a_page_that_gets_through_late_is_sent_once_and_never_again(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, caregivers=[{"id": "cg-a", "name": "A", "site": "town",
                                                   "notify": ["json://a/"]}])
    notifier.failing.add("json://a/")
    clock = clock_of(engine)
    fire(engine, "home-1", "fall")
    assert await engine.process_due_pages() == 0
    clock.t += 5
    assert await engine.process_due_pages() == 0
    notifier.failing.clear()
    clock.t += 10
    assert await engine.process_due_pages() == 1
    clock.t += 3600
    assert await engine.process_due_pages() == 0
    [page] = pages(engine)
    assert (page.state, page.attempts, page.sent_at) == ("sent", 3, clock.t - 3600)
    with engine.sessions() as session:
        paged = session.scalars(select(AuditEntry).where(AuditEntry.action == "paged")).one()
    assert paged.detail == {"caregiver": "cg-a", "attempt": 3, "reason": "alert", "level": 0}
    assert engine.counters["pages_sent"] == 1


async def test_the_first_channel_that_takes_a_page_is_the_last_one_tried(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, caregivers=ONE_PERSON)
    fire(engine, "home-1", "fall")
    assert await engine.process_due_pages() == 1
    assert who(notifier) == ["a-sms"]
    assert [(d.channel, d.ok) for d in deliveries(engine)] == [("json://a-sms/", True)]


async def test_channels_are_tried_in_order_until_one_takes_the_page(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, caregivers=ONE_PERSON)
    notifier.failing.add("json://a-sms/")
    fire(engine, "home-1", "fall")
    assert await engine.process_due_pages() == 1
    assert who(notifier) == ["a-mail"]
    assert [(d.channel, d.ok, d.error) for d in deliveries(engine)] == [
        ("json://a-sms/", False, "refused"), ("json://a-mail/", True, None)]
    assert engine.counters["delivery_failures"] == 1
    [page] = pages(engine)
    assert (page.state, page.attempts) == ("sent", 1)


async def test_the_technicians_hear_of_a_person_after_the_set_number_of_failed_tries(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, caregivers=[{"id": "cg-a", "name": "A", "site": "town",
                                                   "notify": ["json://a/"]}])
    notifier.failing.add("json://a/")
    clock = clock_of(engine)
    fire(engine, "home-1", "fall")
    for wait in (0, 5, 10):  # the default: three tries
        clock.t += wait
        await engine.process_due_pages()
        assert who(notifier) == []
    await engine.process_due_pages()
    assert who(notifier) == ["tech"]
    body = notifier.sent[0][2]
    assert "people=['cg-a']" in body


async def test_each_page_is_delivered_once_whatever_the_pages_before_it_did(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    notifier.failing.add("json://a/")
    fire(engine, "home-1", "agent_offline", "agent")  # the on-call and the desk
    assert await engine.process_due_pages() == 1
    assert who(notifier) == ["desk"]
    states = {p.caregiver_id: p.state for p in pages(engine)}
    assert states == {"cg-a": "pending", "desk-li": "sent"}


async def test_a_page_no_longer_wanted_is_cancelled_not_sent(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    alert = fire(engine, "home-1", "fall")
    assert alert is not None
    engine.transition(alert.id, "resolved", "cg-a", resolution="false_alarm")
    assert await engine.process_due_pages() == 0
    assert [p.state for p in pages(engine)] == ["cancelled"]
    assert notifier.sent == [] and deliveries(engine) == []


async def test_a_page_says_who_where_what_how_often_and_who_took_it(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, sites=[{
        "id": "town", "name": "Town", "kind": "urban", "timezone": "Europe/Berlin",
        "ack_target_s": 10_000}])
    first = fire(engine, "home-1", "fall", "mat")
    fire(engine, "home-1", "fall", "mat")
    assert first is not None
    await engine.process_due_pages()
    [(_, title, body)] = notifier.sent
    assert title == f"[紧急] 检测到跌倒 / Fall detected — Wang Guirong · #{first.id}"
    assert "情况 What: 检测到跌倒（共 2 次） / Fall detected (2 times)" in body
    assert "老人 Who: Wang Guirong" in body
    assert "地址 Where: Qingshan Road 12 (home-1)" in body
    # In the site's own time zone (Berlin: 17:00 when it is 16:00 UTC), 24-hour.
    assert "时间 Since: 17:00（0 秒前） / 17:00 (0 s ago)" in body
    # The site's own acknowledgement target (10 000 s), in its local time.
    assert "期限 Deadline: 请在 19:46 前确认（目标 2 小时 46 分钟）" in body
    assert "acknowledge by 19:46 (2 h 46 min target)" in body
    assert "已由" not in body and "acknowledged by" not in body and "读数" not in body
    engine.transition(first.id, "acknowledged", "cg-a")
    with engine.sessions() as session:
        alert = session.get(Alert, first.id)
        assert alert is not None
        caregiver_b = engine.recipients(session, alert, 1)[0]
        _, again = engine.compose(session, alert, caregiver_b, "reminder")
    # Who took it, by name: the page never shows a bare id.
    assert "期限 Deadline: 已由 A 确认 / acknowledged by A" in again


async def test_a_single_event_is_not_called_repeated(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    fire(engine, "home-1", "fall")
    await engine.process_due_pages()
    assert "次）" not in notifier.sent[0][2] and "times)" not in notifier.sent[0][2]


@pytest.mark.parametrize(("reason", "prefix"), [
    ("alert", "[重要]"), ("reminder", "[重要 · 提醒]"),
    ("escalation", "[重要 · 已升级]"), ("sla_ack", "[重要 · 未按时确认]"),
    ("silence_end", "[重要 · 静音结束]")])
async def test_a_pages_title_says_why_it_is_sent(
        tmp_path: Path, notifier: RecordingNotifier, reason: str, prefix: str) -> None:
    engine = make(tmp_path, notifier)
    alert = fire(engine, "home-1", "bradycardia", "bed")
    assert alert is not None
    with engine.sessions() as session:
        row = session.get(Alert, alert.id)
        assert row is not None
        [oncall] = engine.recipients(session, row, 0)
        title, body = engine.compose(session, row, oncall, reason)
    assert title == f"{prefix} 心率过低 / Heart rate low — Wang Guirong · #{alert.id}"
    assert "我来处理（确认） I am taking it (acknowledge): http://hub.test/ack/" in body


async def test_the_doctor_reads_the_readings_and_gets_no_links(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    homes = [{"id": "home-1", "site": "town", "resident": {
        "name": "Wang Guirong", "doctor_notify": ["json://doctor/"]}}]
    engine = make(tmp_path, notifier, homes=homes)
    fire(engine, "home-1", "bp_crisis", "cuff", {"systolic_mmhg": 192, "diastolic_mmhg": 124})
    await engine.process_due_pages()
    pages_by = {url: (title, body) for url, title, body in notifier.sent}
    title, body = pages_by["json://doctor/"]
    assert title.startswith("[重要 · 致医生] 血压达到危象范围 / Blood pressure in the crisis range")
    assert "读数 Readings: systolic_mmhg=192, diastolic_mmhg=124" in body
    assert "供您参考：老人的读数如下 / for your information" in body
    assert "/ack/" not in body and "/c/" not in body
    _, staff = pages_by["json://a/"]
    assert "读数" not in staff and "systolic" not in staff and "/ack/" in staff
    # The evidence, in words, for the caregivers too.
    assert "血压达到危象范围 — 血压 192/124 mmHg" in staff
    assert "crisis range — blood pressure 192/124 mmHg" in staff


async def test_a_page_about_the_hub_gives_its_details_in_the_organisations_time(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, organisation={"timezone": "Europe/London"})
    with engine.sessions() as session:
        engine.raise_hub_alert(session, "broker_down", engine.clock.now(), {"host": "mq"})
        session.commit()
    await engine.process_due_pages()
    [(_, title, body)] = notifier.sent
    assert title.startswith("[重要] 中心无法连接消息服务器 / The hub cannot reach the MQTT broker"
                            " — 中心系统本身 / the hub itself")
    assert "地址 Where: 中心系统 / the hub" in body
    assert "时间 Since: 16:00（0 秒前） / 16:00 (0 s ago)" in body  # London's time
    assert re.search(r"读数 Readings: since=[\d.]+, host=mq", body)


async def test_a_page_about_an_unregistered_home_asks_to_register_it(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    fire(engine, "home-9", "call", "btn")
    await engine.process_due_pages()
    body = next(b for _, t, b in notifier.sent if "Call button" in t)
    assert "老人 Who: 未登记的家庭 / unregistered home" in body
    assert ("地址 Where: home-9（未登记：请在中心登记） / "
            "home-9 (not in the registry: add it to the hub's registry)") in body
    assert "读数" not in body


async def test_a_home_without_an_address_is_named_by_its_id(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, homes=[
        {"id": "home-1", "site": "town", "resident": {"name": "Wang Guirong"}}])
    fire(engine, "home-1", "fall")
    await engine.process_due_pages()
    assert "地址 Where: home-1\n" in notifier.sent[0][2]


async def test_the_links_in_a_page_are_signed_for_the_person_and_expire(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    alert = fire(engine, "home-1", "fall")
    assert alert is not None
    await engine.process_due_pages()
    body = notifier.sent[0][2]
    ack = re.search(r"\(acknowledge\): http://hub\.test/ack/(\S+)", body)
    mine = re.search(r"Your alerts: http://hub\.test/c/(\S+)", body)
    assert ack is not None and mine is not None
    now = engine.clock.now()
    grant = tokens.verify(engine.secret, ack.group(1), now)
    assert (grant.alert_id, grant.caregiver_id) == (alert.id, "cg-a")
    assert grant.expires == now + engine.ack_link_ttl_s
    desk = tokens.verify(engine.secret, mine.group(1), now)
    assert (desk.alert_id, desk.caregiver_id, desk.expires) == (0, "cg-a", grant.expires)
    with pytest.raises(tokens.TokenError):
        tokens.verify(engine.secret, ack.group(1), now + engine.ack_link_ttl_s + 1)


async def test_reminders_and_escalations_are_delivered_as_they_fall_due(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, sites=[{
        "id": "town", "name": "Town", "kind": "urban", "ack_target_s": 10_000}])
    fire(engine, "home-1", "fall")
    await run_until(engine, 190)
    assert who(notifier) == ["a", "a", "a", "a", "b"]


async def test_a_reminder_queued_as_the_alert_was_acknowledged_is_not_sent(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    alert = fire(engine, "home-1", "fall")
    assert alert is not None
    await engine.process_due_pages()
    with engine.sessions() as ticking:  # a tick reads the alert while it is still open…
        row = ticking.get(Alert, alert.id)
        assert row is not None
        engine.transition(alert.id, "acknowledged", "cg-a")  # …someone acknowledges…
        engine.escalation.page_level(ticking, row, 0, "reminder", engine.clock.now())
        ticking.commit()  # …and the tick's reminder lands after the acknowledgement
    assert await engine.process_due_pages() == 0
    assert who(notifier) == ["a"]
    assert [p.state for p in pages(engine)] == ["sent", "cancelled"]
