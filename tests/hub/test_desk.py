"""The organisation's desk: unregistered homes, empty chains and home units offline reach a
person; many homes offline at once are one alert to the technicians."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.alerts import AlertEngine
from hub.db import Alert, AuditEntry, Page
from tests.hub.conftest import FakeClock, RecordingNotifier
from tests.hub.engine import fire, make, run_until, who


def alerts(engine: AlertEngine) -> list[Alert]:
    with engine.sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


async def test_call_from_an_unregistered_home_pages_the_desk_and_asks_to_register_it(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    fire(engine, "home-9", "call", "btn")
    await engine.process_due_pages()
    assert sorted(who(notifier)) == ["desk", "desk"]
    titles = sorted(title for _, title, _ in notifier.sent)
    assert any("Call button pressed" in t and "未登记的家庭 / unregistered home" in t
               for t in titles)
    assert any("not registered" in t for t in titles)
    body = next(b for _, t, b in notifier.sent if "Call button" in t)
    assert "地址 Where: home-9（未登记：请在中心登记） / home-9 (not in the registry" in body
    assert "/ack/" in body
    fire(engine, "home-9", "fall")
    await engine.process_due_pages()
    kinds = [(a.kind, a.event_count) for a in alerts(engine)]
    assert kinds == [("unknown_home", 2), ("call", 1), ("fall", 1)]  # registry alert once
    assert who(notifier).count("desk") == 3
    assert all(url != "json://a/" for url, _, _ in notifier.sent)  # no site's staff


async def test_an_unregistered_homes_call_is_reminded_to_the_desk_until_acknowledged(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, organisation={"reminder_every_s": 30})
    call = fire(engine, "home-9", "call", "btn")
    assert call is not None
    await run_until(engine, 61, step=1.0)
    calls = [t for _, t, _ in notifier.sent if "Call button" in t]
    assert len(calls) == 3 and calls[1].startswith("[紧急 · 提醒 1] ")
    engine.transition(call.id, "acknowledged", "desk-li")
    before = len(notifier.sent)
    await run_until(engine, 120, step=1.0)
    assert not [t for _, t, _ in notifier.sent[before:] if "Call button" in t]


async def test_a_chain_with_nobody_on_any_level_ends_at_the_desk(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, caregivers=[])
    alert = fire(engine, "home-1", "fall")
    await engine.process_due_pages()
    assert who(notifier) == ["desk"]
    assert alert is not None
    with engine.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(
            AuditEntry.alert_id == alert.id))]
    assert "chain_empty" in actions
    await run_until(engine, 60, step=1.0)
    assert who(notifier) == ["desk", "desk"]  # reminded like anyone paged


async def test_without_a_desk_the_supervisors_stand_in(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, desk=[], technicians=[], caregivers=[
        {"id": "cg-s", "name": "S", "site": "town", "role": "supervisor",
         "notify": ["json://s/"]}])
    fire(engine, "home-9", "call", "btn")
    await engine.process_due_pages()
    assert who(notifier) == ["s", "s"]  # the call and the registry alert


async def test_home_unit_offline_pages_the_site_and_the_desk_at_once_and_reports_blind_time(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, flap_hold_s=120)
    offline = fire(engine, "home-1", "agent_offline", "agent")
    await engine.process_due_pages()
    assert sorted(who(notifier)) == ["a", "desk"]
    assert offline is not None
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    clock.t += 25 * 60
    assert fire(engine, "home-1", "agent_online", "agent") is None
    await run_until(engine, 120, step=10)
    [alert] = alerts(engine)
    assert (alert.state, alert.resolution) == ("resolved", "auto")
    assert alert.data["blind_minutes"] == 25.0  # to the return, not to the end of the hold
    assert alert.resolution_note == "home unit back online; the home was blind for 25 min"


async def test_blind_minutes_without_flap_hold(tmp_path: Path,
                                               notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, flap_hold_s=0)
    fire(engine, "home-1", "agent_offline", "agent")
    assert isinstance(engine.clock, FakeClock)
    engine.clock.t += 90
    fire(engine, "home-1", "agent_online", "agent")
    [alert] = alerts(engine)
    assert alert.state == "resolved" and alert.data["blind_minutes"] == 1.5


def _homes(n: int) -> list[dict[str, Any]]:
    return [{"id": f"home-{i}", "site": "town", "resident": {"name": f"R{i}"}}
            for i in range(1, n + 1)]


async def test_many_homes_offline_at_once_are_one_alert_to_the_technicians(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, homes=_homes(10), flap_hold_s=0,
                  watchdog={"homes_offline_count": 3, "homes_offline_percent": 50,
                            "homes_offline_window_s": 120})
    fire(engine, "home-1", "agent_offline", "agent")
    fire(engine, "home-2", "agent_offline", "agent")  # two of ten: not yet an outage
    assert isinstance(engine.clock, FakeClock)
    engine.clock.t += 30
    for i in range(3, 8):
        fire(engine, f"home-{i}", "agent_offline", "agent")
    await engine.process_due_pages()
    sent = who(notifier)
    assert sent.count("tech") == 1 and sent.count("desk") == 0
    [group] = [a for a in alerts(engine) if a.kind == "homes_offline_many"]
    assert group.data["homes"] == [f"home-{i}" for i in range(1, 8)]
    with engine.sessions() as session:
        desk_pages = {p.state for p in session.scalars(select(Page).where(Page.level == -2))}
    assert desk_pages == {"cancelled"}
    await engine.process_due_pages()
    await run_until(engine, 120, step=1.0)
    assert who(notifier).count("desk") == 0  # no reminders to the desk either
    engine.clock.t += 600
    for i in range(1, 7):
        fire(engine, f"home-{i}", "agent_online", "agent")
    engine.tick()
    assert [a.state for a in alerts(engine) if a.kind == "homes_offline_many"] == ["open"]
    fire(engine, "home-7", "agent_online", "agent")  # the last one back
    engine.tick()
    [group] = [a for a in alerts(engine) if a.kind == "homes_offline_many"]
    assert group.state == "resolved" and group.data["outage_minutes"] == 12.5
    assert group.resolution_note == "every home back online after 12.5 min"


async def test_homes_offline_apart_in_time_page_the_desk_each(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, homes=_homes(10),
                  watchdog={"homes_offline_count": 3, "homes_offline_percent": 50,
                            "homes_offline_window_s": 120})
    assert isinstance(engine.clock, FakeClock)
    for i in range(1, 4):
        fire(engine, f"home-{i}", "agent_offline", "agent")
        engine.clock.t += 121
    await engine.process_due_pages()
    assert who(notifier).count("desk") == 3 and "tech" not in who(notifier)
