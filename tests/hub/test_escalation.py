"""Escalation, reminders, rota hand-over, silences and service-level breaches on a fake clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub.alerts import AlertEngine
from hub.db import Alert, AuditEntry, Site
from tests.hub.conftest import FakeClock, RecordingNotifier, site_config
from tests.hub.engine import build, run_until, who
from tests.hub.engine import fire as fire_at

TUESDAY_NOON = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def make(tmp_path: Path, db_url: str, notifier: RecordingNotifier, t: float = TUESDAY_NOON,
         **overrides: Any) -> AlertEngine:
    raw: dict[str, Any] = {
        "sites": [{"id": "town", "name": "Town", "kind": "urban", "reminder_every_s": 60,
                   "ack_target_s": 10_000, "arrival_target_s": 10_000,
                   "escalation": [{"role": "oncall", "after_s": 0},
                                  {"role": "backup", "after_s": 180},
                                  {"role": "supervisor", "after_s": 360},
                                  {"role": "family", "after_s": 600}]}],
        "homes": [{"id": "home-1", "site": "town", "address": "Qingshan Road 12",
                   "resident": {"name": "Wang", "doctor_notify": ["json://doctor/"],
                                "family": [{"name": "Son", "notify": ["json://son/"]}]}}],
        "caregivers": [
            {"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
            {"id": "cg-b", "name": "B", "site": "town", "role": "backup", "notify": ["json://b/"]},
            {"id": "cg-s", "name": "S", "site": "town", "role": "supervisor",
             "notify": ["json://s/"]},
        ],
    }
    raw.update(overrides)
    return build(site_config(tmp_path, database={"url": db_url}, **raw), notifier, FakeClock(t))


def fire(engine: AlertEngine, kind: str = "fall", device: str = "mat",
         data: dict[str, Any] | None = None) -> int:
    alert = fire_at(engine, "home-1", kind, device, data)
    assert alert is not None
    return alert.id


async def test_unacknowledged_fall_climbs_the_chain_at_the_right_moments(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier, sites=[{
        "id": "town", "name": "Town", "kind": "urban", "reminder_every_s": 1000,
        "ack_target_s": 5000, "arrival_target_s": 5000}])
    fire(engine)
    await engine.process_due_pages()
    assert who(notifier) == ["a"]
    await run_until(engine, 179.5)
    assert who(notifier) == ["a"]  # not a moment early
    await run_until(engine, 0.5)
    assert who(notifier) == ["a", "b"]
    await run_until(engine, 180)
    assert who(notifier) == ["a", "b", "s"]
    await run_until(engine, 240)
    assert who(notifier) == ["a", "b", "s", "son"]
    titles = [title for _, title, _ in notifier.sent]
    assert all(t.startswith("[紧急 · 已升级] ") for t in titles[1:])


async def test_reminders_repeat_at_every_level_until_acknowledged(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier)
    alert_id = fire(engine)
    await run_until(engine, 200)  # reminders at 60, 120, 180; backup at 180
    sent = who(notifier)
    assert sent.count("a") == 4 and sent.count("b") == 1
    engine.transition(alert_id, "acknowledged", "cg-b")
    before = len(notifier.sent)
    await run_until(engine, 900)
    assert len(notifier.sent) == before  # paging stops at every level
    with engine.sessions() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None and alert.acknowledged_by == "cg-b"


async def test_rota_hand_over_pages_whoever_is_on_duty_now(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    evening = datetime(2026, 11, 24, 19, 59, 30, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    engine = make(tmp_path, db_url, notifier, t=evening, shifts=[
        {"site": "town", "caregiver": "cg-a", "role": "oncall", "days": ["tue"],
         "start": "08:00", "end": "20:00"},
        {"site": "town", "caregiver": "cg-b", "role": "oncall", "days": ["tue"],
         "start": "20:00", "end": "08:00"}])
    fire(engine)
    await engine.process_due_pages()
    await run_until(engine, 60)  # the reminder falls after 20:00
    assert who(notifier) == ["a", "b"]
    assert notifier.sent[1][1].startswith("[紧急 · 提醒 1] ")


async def test_silence_holds_pages_and_releases_them_when_it_ends(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier)
    engine.silence("home-1", "cg-a", 300, "bathing the resident")
    fire(engine)
    await run_until(engine, 299)
    assert notifier.sent == []
    await run_until(engine, 61)
    assert who(notifier)[:1] == ["a"]
    assert notifier.sent[0][1].startswith("[紧急 · 静音结束] ")
    with engine.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert "silenced" in actions and "page_held" in actions


def test_silence_is_bounded(tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier)
    from hub.alerts import TransitionError

    with pytest.raises(TransitionError, match="a silence lasts"):
        engine.silence("home-1", "cg-a", 10 * 3600, "all night")


async def test_service_level_breaches_page_the_supervisor_and_are_counted(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier, sites=[{
        "id": "town", "name": "Town", "kind": "urban", "reminder_every_s": 5000,
        "ack_target_s": 120, "escalation": [{"role": "oncall", "after_s": 0}]}])
    with engine.sessions() as session:
        assert session.get(Site, "town").arrival_target_s == 900  # type: ignore[union-attr]
    alert_id = fire(engine)
    await run_until(engine, 121)
    assert who(notifier) == ["a", "s"]
    assert notifier.sent[1][1].startswith("[紧急 · 未按时确认] ")
    engine.transition(alert_id, "acknowledged", "cg-a")
    await run_until(engine, 900 - 121)  # urban arrival target: 15 minutes
    assert who(notifier) == ["a", "s", "s"]
    assert notifier.sent[2][1].startswith("[紧急 · 未按时到场] ")
    assert engine.counters["sla_ack_breaches"] == 1
    assert engine.counters["sla_arrival_breaches"] == 1


async def test_on_site_in_time_is_no_arrival_breach(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier)
    alert_id = fire(engine)
    await engine.process_due_pages()
    engine.transition(alert_id, "on_site", "cg-a")
    await run_until(engine, 2000, step=10)
    assert engine.counters["sla_arrival_breaches"] == 0
    assert who(notifier) == ["a"]


async def test_crisis_reaches_the_doctor_as_well(tmp_path: Path,
                                                 notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier)
    fire(engine, "bp_crisis", "cuff", {"systolic_mmhg": 192, "diastolic_mmhg": 124})
    await engine.process_due_pages()
    assert sorted(who(notifier)) == ["a", "doctor"]
    doctor = next(body for url, _, body in notifier.sent if "doctor" in url)
    assert "systolic_mmhg=192" in doctor


async def test_flapping_device_is_held_open_not_paged_again(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier)
    first = fire(engine, "device_silent", "bed")
    await engine.process_due_pages()
    for _ in range(5):
        with engine.sessions() as session:
            engine.on_event(session, "home-1", "device_recovered", "bed", 0, {})
            session.commit()
        await run_until(engine, 10, step=5)
        assert fire(engine, "device_silent", "bed") == first
    await engine.process_due_pages()
    assert who(notifier).count("a") == 1


async def test_rules_can_be_changed_per_site_and_per_resident(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier, rules={"low_battery": {"page": True}})
    assert engine.rule_for("home-1", "low_battery").page  # type: ignore[union-attr]
    homes = [{"id": "home-1", "site": "town", "resident": {
        "name": "W", "rules": {"bed_exit": {"severity": "high", "page": True}}}}]
    engine = make(tmp_path, db_url, notifier, homes=homes)
    rule = engine.rule_for("home-1", "bed_exit")
    assert rule is not None and (rule.severity, rule.page) == ("high", True)


async def test_a_new_engine_on_the_same_database_carries_on_without_repeating(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier)
    fire(engine)
    await run_until(engine, 100)  # a at 0 and 60
    assert who(notifier) == ["a", "a"]
    assert isinstance(engine.clock, FakeClock)
    restarted = make(tmp_path, db_url, notifier, t=engine.clock.t + 30)  # down for 30 s
    await run_until(restarted, 60)  # 130..190: reminder at 120 (late, once), backup at 180
    assert who(notifier) == ["a", "a", "a", "b"]


async def test_a_level_with_nobody_passes_straight_to_the_next(
        tmp_path: Path, notifier: RecordingNotifier, db_url: str) -> None:
    engine = make(tmp_path, db_url, notifier, caregivers=[
        {"id": "cg-s", "name": "S", "site": "town", "role": "supervisor",
         "notify": ["json://s/"]}])
    fire(engine)  # no on-call and no backup caregiver on this site
    await engine.process_due_pages()
    assert who(notifier) == ["s"]
    with engine.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("nobody_at_level") == 2
