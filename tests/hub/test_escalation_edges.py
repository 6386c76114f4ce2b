"""Who is paged and when, at the edges: the doctor is told once, a silence holds the chain where
it is, service levels of town and village sites, the family of the right home, and the
organisation's stand-ins when the desk or the technicians are missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.alerts import AlertEngine
from hub.db import Alert, AuditEntry
from tests.hub.conftest import RecordingNotifier
from tests.hub.engine import fire, make, run_until, who

STAFF = [
    {"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
    {"id": "cg-b", "name": "B", "site": "town", "role": "backup", "notify": ["json://b/"]},
    {"id": "cg-s", "name": "S", "site": "town", "role": "supervisor", "notify": ["json://s/"]},
]
HOMES = [
    {"id": "home-1", "site": "town", "resident": {
        "name": "Wang", "doctor_notify": ["json://doctor/"],
        "family": [{"name": "Son", "notify": ["json://son/"]}]}},
    {"id": "home-2", "site": "town", "resident": {
        "name": "Li", "family": [{"name": "Daughter", "notify": ["json://daughter/"]}]}},
]


def town(**site: Any) -> list[dict[str, Any]]:
    return [{"id": "town", "name": "Town", "kind": "urban", **site}]


def engine_for(tmp_path: Path, notifier: RecordingNotifier, **sections: Any) -> AlertEngine:
    sections.setdefault("caregivers", STAFF)
    sections.setdefault("homes", HOMES)
    return make(tmp_path, notifier, **sections)


def opened(engine: AlertEngine, kind: str = "fall", home: str = "home-1",
           device: str = "mat") -> int:
    alert = fire(engine, home, kind, device)
    assert alert is not None
    return alert.id


def audit(engine: AlertEngine, alert_id: int) -> list[AuditEntry]:
    with engine.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(
            AuditEntry.alert_id == alert_id).order_by(AuditEntry.id)))


def alert_row(engine: AlertEngine, alert_id: int) -> Alert:
    with engine.sessions() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert


async def test_the_doctor_is_told_once_and_reminders_go_to_the_chain_only(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, sites=town(ack_target_s=10_000))
    opened(engine, "bp_crisis", device="cuff")
    await run_until(engine, 150)  # reminders at 60 and 120
    assert sorted(who(notifier)) == ["a", "a", "a", "doctor"]


async def test_a_silence_holds_the_chain_where_it_is(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, sites=town(ack_target_s=10_000))
    engine.silence("home-1", "cg-a", 150, "bathing the resident")
    alert_id = opened(engine)
    await run_until(engine, 149)
    assert notifier.sent == []
    assert alert_row(engine, alert_id).level == 0  # held, not passed on as if nobody were there
    actions = [e.action for e in audit(engine, alert_id)]
    assert "escalated" not in actions and "nobody_at_level" not in actions
    assert "chain_empty" not in actions  # the chain has people; they are held, not missing
    await run_until(engine, 31)  # the first reminder after the silence: 180, with the backup
    assert sorted(who(notifier)) == ["a", "b"]
    assert notifier.sent[0][1].startswith("[紧急 · 静音结束] ")


async def test_breaches_during_a_silence_are_held_and_audited(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, sites=town(ack_target_s=60, arrival_target_s=90))
    alert_id = opened(engine)
    await engine.process_due_pages()
    engine.silence("home-1", "cg-a", 3600, "caregiver on site")
    await run_until(engine, 100)
    assert who(notifier) == ["a"]
    held = [e.detail for e in audit(engine, alert_id) if e.action == "page_held"]
    assert {"reason": "sla_ack", "role": "supervisor"} in held
    assert {"reason": "sla_arrival", "role": "supervisor"} in held


async def test_breaches_are_counted_and_kept_in_the_audit(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, sites=town(reminder_every_s=5000))
    alert_id = opened(engine)
    await run_until(engine, 119.5)
    assert who(notifier) == ["a"]  # the default target is 2 min
    await run_until(engine, 0.5)
    assert who(notifier) == ["a", "s"]
    engine.transition(alert_id, "acknowledged", "cg-a")
    await run_until(engine, 900 - 120 - 0.5)
    assert who(notifier) == ["a", "s"]
    await run_until(engine, 0.5)  # a town's arrival target: 15 min
    assert who(notifier) == ["a", "s", "s"]
    actions = [e.action for e in audit(engine, alert_id)]
    assert actions.count("sla_ack_breached") == 1
    assert actions.count("sla_arrival_breached") == 1
    await run_until(engine, 300, step=5)
    assert who(notifier) == ["a", "s", "s"]  # each breach pages once
    assert (engine.counters["sla_ack_breaches"], engine.counters["sla_arrival_breaches"]) == (1, 1)


async def test_a_village_site_has_half_an_hour_to_arrive(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, sites=[{
        "id": "town", "name": "Village", "kind": "rural", "reminder_every_s": 5000,
        "escalation": [{"role": "oncall", "after_s": 0}]}])
    alert_id = opened(engine)
    await engine.process_due_pages()
    engine.transition(alert_id, "acknowledged", "cg-a")
    await run_until(engine, 1799.5, step=10)
    assert engine.counters["sla_arrival_breaches"] == 0
    await run_until(engine, 0.5)
    assert engine.counters["sla_arrival_breaches"] == 1
    assert who(notifier) == ["a", "s"]
    assert notifier.sent[1][1].startswith("[紧急 · 未按时到场] ")


async def test_only_critical_alerts_have_an_arrival_target(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier)
    high = opened(engine, "device_silent", device="bed")
    critical = opened(engine, "fall")
    high_row, critical_row = alert_row(engine, high), alert_row(engine, critical)
    assert high_row.arrival_due_at is None
    assert critical_row.arrival_due_at == critical_row.opened_at + 900
    assert high_row.ack_due_at == high_row.opened_at + 120


async def test_the_chain_pages_each_step_once_and_only_this_homes_family(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, sites=town(reminder_every_s=5000,
                                                         ack_target_s=5000,
                                                         arrival_target_s=5000))
    alert_id = opened(engine)
    await run_until(engine, 900, step=5)
    assert who(notifier) == ["a", "b", "s", "son"]
    escalated = [e.detail for e in audit(engine, alert_id) if e.action == "escalated"]
    assert escalated == [{"level": 1, "role": "backup"}, {"level": 2, "role": "supervisor"},
                         {"level": 3, "role": "family"}]
    assert engine.counters["escalations"] == 3
    row = alert_row(engine, alert_id)
    assert (row.level, row.next_escalation_at) == (3, None)


async def test_reminders_after_the_chain_ended_reach_everyone_paged(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, sites=town(
        reminder_every_s=100, ack_target_s=5000,
        escalation=[{"role": "oncall", "after_s": 0}, {"role": "backup", "after_s": 30}]))
    opened(engine)
    await run_until(engine, 100)
    assert who(notifier) == ["a", "b", "a", "b"]
    assert engine.counters["reminders"] == 1
    await run_until(engine, 99.5)
    assert len(notifier.sent) == 4  # the next one 100 s after the last
    await run_until(engine, 0.5)
    assert who(notifier)[4:] == ["a", "b"]


async def test_a_chain_of_empty_levels_reaches_the_desk_once_and_it_is_reminded(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, caregivers=[], homes=[
        {"id": "home-1", "site": "town", "resident": {"name": "Wang"}}])
    alert_id = opened(engine)
    await run_until(engine, 30)
    assert who(notifier) == ["desk"]
    actions = [e.action for e in audit(engine, alert_id)]
    assert actions.count("chain_empty") == 1
    await run_until(engine, 60)
    assert who(notifier) == ["desk", "desk"]
    assert notifier.sent[1][1].startswith("[紧急 · 提醒 1] ")


async def test_without_technicians_the_desk_hears_about_the_hub(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, technicians=[])
    with engine.sessions() as session:
        engine.raise_hub_alert(session, "broker_down", engine.clock.now())
        session.commit()
    await engine.process_due_pages()
    assert who(notifier) == ["desk"]


async def test_without_a_desk_every_sites_standing_supervisors_stand_in(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    sites = [{"id": "town", "name": "Town", "kind": "urban"},
             {"id": "hills", "name": "Hills", "kind": "rural"}]
    caregivers = [*STAFF, {"id": "cg-t", "name": "T", "site": "hills", "role": "supervisor",
                           "notify": ["json://t/"]}]
    engine = engine_for(tmp_path, notifier, desk=[], technicians=[], sites=sites,
                        caregivers=caregivers)
    with engine.sessions() as session:
        engine.raise_hub_alert(session, "broker_down", engine.clock.now())
        session.commit()
    await engine.process_due_pages()
    assert sorted(who(notifier)) == ["s", "t"]  # not the on-call, backup or any family


async def test_an_alert_of_no_site_is_reminded_on_the_organisations_interval(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = engine_for(tmp_path, notifier, organisation={"reminder_every_s": 45})
    with engine.sessions() as session:
        engine.raise_hub_alert(session, "influx_down", engine.clock.now())
        session.commit()
    await run_until(engine, 44.5)
    assert who(notifier) == ["tech"]
    await run_until(engine, 0.5)
    assert who(notifier) == ["tech", "tech"]
