"""Events in, at the edges: what settles an alert and what does not, the hold of a device that
comes back, grouping, the desk's share of alerts, and homes going offline together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.alerts import AlertEngine
from hub.db import Alert, AuditEntry, Page
from tests.hub.conftest import RecordingNotifier
from tests.hub.engine import clock_of, fire, make, run_until, state_of, who


def opened(engine: AlertEngine, home: str, kind: str, device: str = "mat") -> int:
    alert = fire(engine, home, kind, device)
    assert alert is not None
    return alert.id


def actions(engine: AlertEngine, alert_id: int) -> list[str]:
    with engine.sessions() as session:
        return [e.action for e in session.scalars(
            select(AuditEntry).where(AuditEntry.alert_id == alert_id).order_by(AuditEntry.id))]


async def test_only_the_events_named_by_a_rule_settle_its_alerts(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    open_ids = {kind: opened(engine, "home-1", kind, device) for kind, device in [
        ("news2_high", "vitals"), ("bp_crisis", "cuff"), ("device_silent", "bed"),
        ("agent_offline", "agent"), ("call", "btn"), ("low_battery", "bed")]}
    # Everything a home sends that names none of these alerts as settled.
    for kind, device in [("trend", "vitals"), ("fall", "mat"), ("bed_return", "bed"),
                         ("device_recovered", "mat"), ("sensor_recovered", "bed"),
                         ("edge_clock_ok", "agent"), ("news2_medium", "vitals")]:
        fire(engine, "home-1", kind, device)
    await run_until(engine, engine.config.flap_hold_s + 5, step=5)
    assert {kind: state_of(engine, i) for kind, i in open_ids.items()} == dict.fromkeys(
        open_ids, "open")
    # The events that do settle some of them: only those, and never a call.
    fire(engine, "home-1", "device_recovered", "bed")
    fire(engine, "home-1", "agent_online", "agent")
    await run_until(engine, engine.config.flap_hold_s + 5, step=5)
    assert {kind: state_of(engine, i) for kind, i in open_ids.items()} == {
        "news2_high": "open", "bp_crisis": "open", "device_silent": "resolved",
        "agent_offline": "resolved", "call": "open", "low_battery": "open"}


async def test_a_device_that_goes_silent_again_restarts_its_hold(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, flap_hold_s=120)
    clock = clock_of(engine)
    silent = opened(engine, "home-1", "device_silent", "bed")
    await run_until(engine, 10)
    fire(engine, "home-1", "device_recovered", "bed")  # back at +10
    await run_until(engine, 50)
    assert fire(engine, "home-1", "device_silent", "bed") is not None  # gone again at +60
    await run_until(engine, 90)  # +150: past the hold of the first return
    assert state_of(engine, silent) == "open"
    fire(engine, "home-1", "device_recovered", "bed")  # back for good at +150
    back = clock.t
    await run_until(engine, 60)
    fire(engine, "home-1", "device_recovered", "bed")  # a repeat does not move the hold
    await run_until(engine, 59)
    assert state_of(engine, silent) == "open"
    await run_until(engine, back + 120 - clock.t)
    assert state_of(engine, silent) == "resolved"
    assert actions(engine, silent).count("recovering") == 2
    with engine.sessions() as session:  # the flapping device stayed one alert
        assert session.scalars(select(Alert.id).where(Alert.kind == "device_silent")).all() == [
            silent]


async def test_a_hold_of_one_second_still_holds(tmp_path: Path,
                                                notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, flap_hold_s=1)
    silent = opened(engine, "home-1", "device_silent", "bed")
    fire(engine, "home-1", "device_recovered", "bed")
    assert state_of(engine, silent) == "open"
    await run_until(engine, 1)
    assert state_of(engine, silent) == "resolved"


async def test_without_a_hold_a_device_back_settles_at_once_with_what_settled_it(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, flap_hold_s=0)
    silent = opened(engine, "home-1", "device_silent", "bed")
    fire(engine, "home-1", "device_recovered", "bed")
    with engine.sessions() as session:
        alert = session.get(Alert, silent)
        assert alert is not None
        assert (alert.state, alert.resolution, alert.resolved_by) == ("resolved", "auto",
                                                                        "system")
        assert alert.resolution_note == "device_recovered received"
        assert alert.on_site_at is None  # nobody went there


async def test_repeats_are_counted_and_audited_and_page_nobody(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    first = opened(engine, "home-1", "fall")
    assert opened(engine, "home-1", "fall") == first
    assert opened(engine, "home-1", "fall") == first
    await engine.process_due_pages()
    assert who(notifier) == ["a"]
    with engine.sessions() as session:
        alert = session.get(Alert, first)
        assert alert is not None and alert.event_count == 3
    assert actions(engine, first)[:3] == ["opened", "grouped", "grouped"]
    assert engine.counters["events_grouped"] == 2
    assert engine.counters["alerts_opened"] == 1


async def test_an_alert_that_pages_nobody_is_still_opened_and_returned(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    alert = fire(engine, "home-1", "low_battery", "bed")
    assert alert is not None and (alert.kind, alert.paging) == ("low_battery", False)
    await run_until(engine, 300, step=10)
    assert notifier.sent == []


async def test_a_message_that_could_not_be_stored_reaches_the_technicians_and_the_desk(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    with engine.sessions() as session:
        engine.raise_hub_alert(session, "dead_letter", engine.clock.now(), {"topic": "x"})
        session.commit()
    await engine.process_due_pages()
    assert sorted(who(notifier)) == ["desk", "tech"]


async def test_an_unregistered_home_unit_offline_pages_the_desk_once_for_it(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    fire(engine, "home-9", "agent_offline", "agent")
    await engine.process_due_pages()
    titles = sorted(title for _, title, _ in notifier.sent)
    assert who(notifier) == ["desk", "desk"]  # the unit offline, and the home to register
    assert any("Home unit offline" in t for t in titles)
    assert any("not registered" in t for t in titles)


def _homes(n: int) -> list[dict[str, Any]]:
    return [{"id": f"home-{i}", "site": "town", "resident": {"name": f"R{i}"}}
            for i in range(1, n + 1)]


async def test_a_share_of_all_homes_offline_together_is_one_outage(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    # Two of ten homes is 20 %: an outage by share, far below the count of five.
    engine = make(tmp_path, notifier, homes=_homes(10))
    fire(engine, "home-1", "agent_offline", "agent")
    fire(engine, "home-2", "agent_offline", "agent")
    await engine.process_due_pages()
    assert sorted(who(notifier)) == ["a", "a", "tech"]  # the desk's pages are cancelled
    with engine.sessions() as session:
        group = session.scalars(select(Alert).where(Alert.kind == "homes_offline_many")).one()
        assert group.data["homes"] == ["home-1", "home-2"]
        assert group.data["homes_total"] == 10
        offline = session.scalars(select(Alert).where(Alert.kind == "agent_offline")).all()
        assert {a.data["grouped_in"] for a in offline} == {group.id}


async def test_homes_offline_at_the_edge_of_the_window_are_one_outage(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, homes=_homes(20),
                  watchdog={"homes_offline_count": 2, "homes_offline_window_s": 120})
    first = fire(engine, "home-1", "agent_offline", "agent")
    assert first is not None
    since = first.opened_at
    clock_of(engine).t += 120
    fire(engine, "home-2", "agent_offline", "agent")
    with engine.sessions() as session:
        group = session.scalars(select(Alert).where(Alert.kind == "homes_offline_many")).one()
        assert group.data["homes"] == ["home-1", "home-2"]
        assert group.first_event_t == since  # the outage began with the first home
        desk = {p.state for p in session.scalars(select(Page).where(Page.level == -2))}
    assert desk == {"cancelled"}


async def test_a_home_already_back_is_not_part_of_an_outage(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, homes=_homes(20), flap_hold_s=120,
                  watchdog={"homes_offline_count": 2})
    fire(engine, "home-1", "agent_offline", "agent")
    fire(engine, "home-1", "agent_online", "agent")  # back, inside its hold
    fire(engine, "home-2", "agent_offline", "agent")
    await engine.process_due_pages()
    assert "tech" not in who(notifier) and who(notifier).count("desk") == 2


async def test_people_unreachable_are_listed_until_each_of_them_is_reached(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, watchdog={"page_failures_before_alert": 1})
    notifier.failing.update({"json://a/", "json://desk/"})
    fire(engine, "home-1", "agent_offline", "agent")  # pages the site and the desk at once
    await engine.process_due_pages()
    with engine.sessions() as session:
        alert = engine.active_hub_alert(session, "pages_failing")
        assert alert is not None and alert.data["people"] == ["cg-a", "desk-li"]
        assert alert.event_count == 2  # one per person, not one per failed attempt
        failing_id = alert.id
    clock_of(engine).t += 5
    await engine.process_due_pages()  # second attempts fail too: nobody added twice
    with engine.sessions() as session:
        alert = session.get(Alert, failing_id)
        assert alert is not None and alert.event_count == 2
    notifier.failing.discard("json://a/")
    clock_of(engine).t += 10
    await engine.process_due_pages()
    with engine.sessions() as session:
        alert = session.get(Alert, failing_id)
        assert alert is not None
        assert (alert.state, alert.data["people"]) == ("open", ["desk-li"])
    notifier.failing.clear()
    clock_of(engine).t += 20
    await engine.process_due_pages()
    assert state_of(engine, failing_id) == "resolved"


async def test_homes_that_go_offline_while_an_outage_is_open_join_it(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, homes=_homes(20), flap_hold_s=0,
                  watchdog={"homes_offline_count": 3})
    for i in range(1, 4):
        fire(engine, f"home-{i}", "agent_offline", "agent")
    await engine.process_due_pages()
    clock_of(engine).t += 600  # long after the window of the first three
    fire(engine, "home-4", "agent_offline", "agent")
    await engine.process_due_pages()
    assert who(notifier).count("desk") == 0 and who(notifier).count("tech") == 1
    with engine.sessions() as session:
        group = session.scalars(select(Alert).where(Alert.kind == "homes_offline_many")).one()
        assert group.data["homes"] == ["home-1", "home-2", "home-3", "home-4"]
    for i in range(1, 4):
        fire(engine, f"home-{i}", "agent_online", "agent")
    engine.tick()
    assert state_of(engine, group.id) == "open"  # home-4 is still dark


async def test_outage_and_blind_times_are_told_in_tenths_of_a_minute(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier, flap_hold_s=0)
    clock = clock_of(engine)
    offline = opened(engine, "home-1", "agent_offline", "agent")
    with engine.sessions() as session:
        engine.raise_hub_alert(session, "broker_down", clock.t)
        session.commit()
    clock.t += 100
    fire(engine, "home-1", "agent_online", "agent")
    with engine.sessions() as session:
        hub = engine.resolve_hub_alert(session, "broker_down", "the broker is back")
        session.commit()
        assert hub is not None
        assert (hub.data["outage_minutes"], hub.resolution_note) == (
            1.7, "the broker is back after 1.7 min")
        home = session.get(Alert, offline)
        assert home is not None and home.data["blind_minutes"] == 1.7
        assert engine.resolve_hub_alert(session, "broker_down", "again") is None


def test_a_message_from_an_unregistered_home_is_reported_once_while_open(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    engine = make(tmp_path, notifier)
    with engine.sessions() as session:
        first = engine.note_unknown_home(session, "home-9", "bed")
        assert first is not None and (first.kind, first.home) == ("unknown_home", "home-9")
        again = engine.note_unknown_home(session, "home-9", "bed")
        assert again is not None and again.id == first.id and again.event_count == 2
        assert engine.note_unknown_home(session, "home-1", "bed") is None
        assert engine.note_unknown_home(session, "", "hub") is None
