"""Alert engine: grouping, lifecycle, paging, retries and auto-resolution, on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.alerts import AlertEngine, TransitionError
from hub.db import Alert, Delivery, Page
from tests.hub.conftest import FakeClock, RecordingNotifier, site_config
from tests.hub.engine import build, fire


@pytest.fixture
def engine(tmp_path: Path, notifier: RecordingNotifier) -> AlertEngine:
    return build(site_config(tmp_path), notifier)


def _event(engine: AlertEngine, kind: str, device: str = "btn") -> int | None:
    alert = fire(engine, "home-1", kind, device)
    return alert.id if alert else None


async def test_call_pages_oncall_with_who_where_what_and_link(
        engine: AlertEngine, notifier: RecordingNotifier) -> None:
    alert_id = _event(engine, "call")
    assert await engine.process_due_pages() == 1
    [(url, title, body)] = notifier.sent
    assert url == "json://a/"  # on call, not the backup
    assert "Wang Guirong" in title and "地址 Where: Qingshan Road 12 (home-1)" in body
    assert "Qingshan Road 12" in body
    # 16:00 UTC is midnight in Shanghai: the local time, 24-hour, with its age.
    assert "时间 Since: 00:00（0 秒前） / 00:00 (0 s ago)" in body
    assert "呼叫按钮被按下 — 按下了呼叫按钮 / Call button pressed — pressed the call button" in body
    assert "http://hub.test/ack/" in body
    assert alert_id is not None


async def test_repeated_call_groups_and_does_not_page_again(
        engine: AlertEngine, notifier: RecordingNotifier) -> None:
    first = _event(engine, "call")
    await engine.process_due_pages()
    second = _event(engine, "call")
    await engine.process_due_pages()
    assert first == second
    assert len(notifier.sent) == 1
    engine.transition(first, "resolved", "cg-a", resolution="real")  # type: ignore[arg-type]
    third = _event(engine, "call")
    await engine.process_due_pages()
    assert third != first and len(notifier.sent) == 2


async def test_failed_delivery_falls_through_and_retries_with_backoff(
        tmp_path: Path, notifier: RecordingNotifier, engine: AlertEngine) -> None:
    notifier.failing.add("json://a/")
    _event(engine, "call")
    assert await engine.process_due_pages() == 0
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    clock.t += 4.9
    assert await engine.process_due_pages() == 0  # not due yet
    with engine.sessions() as session:
        assert session.scalar(select(Page.attempts)) == 1
    notifier.failing.clear()
    clock.t += 0.2
    assert await engine.process_due_pages() == 1
    with engine.sessions() as session:
        assert [d.ok for d in session.scalars(select(Delivery).order_by(Delivery.id))] == [
            False, True]


async def test_acknowledge_stops_pending_pages(engine: AlertEngine,
                                               notifier: RecordingNotifier) -> None:
    notifier.failing.add("json://a/")
    alert_id = _event(engine, "fall")
    await engine.process_due_pages()
    assert alert_id is not None
    engine.transition(alert_id, "acknowledged", "cg-a")
    notifier.failing.clear()
    assert isinstance(engine.clock, FakeClock)
    engine.clock.t += 600
    assert await engine.process_due_pages() == 0
    assert notifier.sent == []


def test_lifecycle_moves_forward_only(engine: AlertEngine) -> None:
    alert_id = _event(engine, "call")
    assert alert_id is not None
    alert = engine.transition(alert_id, "on_site", "cg-a")
    assert alert.acknowledged_by == "cg-a" and alert.on_site_by == "cg-a"
    with pytest.raises(TransitionError, match="already on_site"):
        engine.transition(alert_id, "acknowledged", "cg-b")
    with pytest.raises(TransitionError, match="resolution must be"):
        engine.transition(alert_id, "resolved", "cg-a", resolution="bored")
    done = engine.transition(alert_id, "resolved", "cg-a", resolution="false_alarm", note="cat")
    assert (done.state, done.resolution, done.resolution_note) == ("resolved", "false_alarm", "cat")


def test_device_back_resolves_its_silence_but_nothing_resolves_a_call(
        engine: AlertEngine) -> None:
    silent = _event(engine, "device_silent", device="bed")
    other = _event(engine, "device_silent", device="mat")
    call = _event(engine, "call")
    assert _event(engine, "device_recovered", device="bed") is None
    assert isinstance(engine.clock, FakeClock)
    engine.clock.t += engine.config.flap_hold_s
    engine.tick()
    from hub.db import Alert

    with engine.sessions() as session:
        states = {a.id: a.state for a in session.scalars(select(Alert))}
    assert states[silent] == "resolved"  # type: ignore[index]
    assert states[other] == "open"  # type: ignore[index]
    assert states[call] == "open"  # type: ignore[index]


def test_unknown_and_info_kinds_open_no_alert(engine: AlertEngine) -> None:
    assert _event(engine, "bed_exit") is None
    assert _event(engine, "something_new") is None


async def test_bed_exit_pages_only_for_a_resident_who_wants_it_and_bed_return_resolves_it(
        tmp_path: Path, notifier: RecordingNotifier) -> None:
    homes = [{"id": "home-1", "site": "town", "resident": {
        "name": "Wang Guirong", "rules": {"bed_exit": {"page": True}}}},
             {"id": "home-2", "site": "town", "resident": {"name": "Li Xiu"}}]
    engine = build(site_config(tmp_path, homes=homes, flap_hold_s=0), notifier)
    with engine.sessions() as session:
        at_risk = engine.on_event(session, "home-1", "bed_exit", "bed", engine.clock.now(), {})
        other = engine.on_event(session, "home-2", "bed_exit", "bed", engine.clock.now(), {})
        session.commit()
        assert at_risk is not None and other is None
        alert_id = at_risk.id
    assert await engine.process_due_pages() == 1
    with engine.sessions() as session:
        engine.on_event(session, "home-1", "bed_return", "bed", engine.clock.now(), {})
        session.commit()
    with engine.sessions() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None and (alert.state, alert.resolution) == ("resolved", "auto")
