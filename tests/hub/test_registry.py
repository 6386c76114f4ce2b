"""The registry rows are the engine's one source of sites, homes, people and the rota: the
config is written into them, a row written later counts at the next event, a home or site
that leaves the config is retired, and a database from an older version is upgraded."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, inspect, select

from hub.alerts import AlertEngine
from hub.config import ServiceSettings
from hub.db import Caregiver, Home, RotaOverride, RotaShift, Site, make_engine, make_sessionmaker
from hub.registry import sync_registry
from tests.hub.conftest import FakeClock, RecordingNotifier, site_config
from tests.hub.engine import fire, who

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _registry(tmp_path: Path, db_url: str, **sections: Any):  # type: ignore[no-untyped-def]
    config = site_config(tmp_path, database={"url": db_url}, **sections)
    sessions = make_sessionmaker(make_engine(db_url))
    with sessions() as session:
        sync_registry(session, config)
    return config, sessions


def test_the_config_is_written_into_the_rows(tmp_path: Path, db_url: str) -> None:
    _, sessions = _registry(
        tmp_path, db_url,
        sites=[{"id": "town", "name": "Town", "reminder_every_s": 45,
                "escalation": [{"role": "oncall", "after_s": 0},
                               {"role": "supervisor", "after_s": 300}],
                "rules": {"low_battery": {"page": True}}}],
        homes=[{"id": "home-1", "site": "town", "resident": {
            "name": "Wang", "rules": {"bed_exit": {"severity": "high"}}}}],
        shifts=[{"site": "town", "caregiver": "cg-a", "role": "oncall", "days": ["mon"],
                 "start": "20:00", "end": "08:00"}],
        overrides=[{"site": "town", "caregiver": "cg-b", "role": "oncall",
                    "start": "2026-11-25T12:00", "end": "2026-11-25T14:00"},
                   {"site": "town", "caregiver": "cg-b", "role": "backup",
                    "start": "2026-11-25T12:00+00:00", "end": "2026-11-25T14:00+00:00"}])
    with sessions() as session:
        site = session.get(Site, "town")
        assert site is not None and site.active
        assert site.escalation == [{"role": "oncall", "after_s": 0.0},
                                   {"role": "supervisor", "after_s": 300.0}]
        assert (site.reminder_every_s, site.rules) == (45.0, {"low_battery": {"page": True}})
        home = session.get(Home, "home-1")
        assert home is not None and home.rules == {"bed_exit": {"severity": "high"}}
        [shift] = session.scalars(select(RotaShift))
        assert (shift.caregiver_id, shift.days, shift.start, shift.end) == (
            "cg-a", ["mon"], "20:00", "08:00")
        local, utc = session.scalars(select(RotaOverride).order_by(RotaOverride.role.desc()))
        # A time without an offset is the site's local time; one with an offset is kept.
        assert local.start_at == datetime(2026, 11, 25, 12, tzinfo=SHANGHAI).timestamp()
        assert utc.end_at == datetime(2026, 11, 25, 14, tzinfo=ZoneInfo("UTC")).timestamp()


async def test_the_engine_reads_rows_only_and_sees_a_home_enrolled_later(
        tmp_path: Path, db_url: str, notifier: RecordingNotifier) -> None:
    _, sessions = _registry(tmp_path, db_url)
    # The service's settings alone: no site, home or person in them.
    engine = AlertEngine(sessions, notifier, secret="k" * 32, public_url="http://hub.test",
                         clock=FakeClock(), config=ServiceSettings())
    with sessions() as session:  # as a registry API would, without a restart
        session.add(Home(id="home-2", site_id="town", address="Hill Lane 3",
                         resident_name="Li Xiu", doctor_notify=[],
                         rules={"bed_exit": {"page": True}}))
        session.commit()
    assert engine.rule_for("home-2", "bed_exit") is not None
    assert fire(engine, "home-2", "bed_exit", "bed") is not None
    await engine.process_due_pages()
    assert who(notifier) == ["a"]
    assert "Li Xiu" in notifier.sent[0][1] and "Hill Lane 3" in notifier.sent[0][2]


def test_what_leaves_the_config_is_retired_not_deleted(tmp_path: Path, db_url: str) -> None:
    homes = [{"id": f"home-{i}", "site": "town", "resident": {"name": f"R{i}"}}
             for i in (1, 2)]
    _, sessions = _registry(
        tmp_path, db_url, homes=homes, shifts=[
            {"site": "town", "caregiver": "cg-b", "role": "oncall", "days": ["mon"],
             "start": "08:00", "end": "20:00"}])
    with sessions() as session:
        sync_registry(session, site_config(tmp_path, database={"url": db_url},
                                           homes=homes[:1]))
        assert [(h.id, h.active) for h in session.scalars(select(Home).order_by(Home.id))] == [
            ("home-1", True), ("home-2", False)]
        assert list(session.scalars(select(RotaShift))) == []
        assert all(c.active for c in session.scalars(select(Caregiver)))


async def test_a_database_of_an_older_version_gets_the_new_columns(
        tmp_path: Path, db_url: str, notifier: RecordingNotifier) -> None:
    old = create_engine(db_url)
    with old.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE sites (id VARCHAR(64) PRIMARY KEY, name VARCHAR(200) NOT NULL, "
            "kind VARCHAR(16) NOT NULL, timezone VARCHAR(64) NOT NULL, "
            "ack_target_s FLOAT NOT NULL, arrival_target_s FLOAT NOT NULL)")
        connection.exec_driver_sql(
            "CREATE TABLE homes (id VARCHAR(64) PRIMARY KEY, site_id VARCHAR(64) NOT NULL "
            "REFERENCES sites (id), address VARCHAR(400) NOT NULL, "
            "resident_name VARCHAR(200) NOT NULL, doctor_notify JSON NOT NULL)")
        connection.exec_driver_sql("INSERT INTO sites VALUES "
                                   "('old', 'Old', 'urban', 'Asia/Shanghai', 120, 900)")
        connection.exec_driver_sql("INSERT INTO homes VALUES ('home-0', 'old', '', 'R0', '[]')")
    old.dispose()
    config, sessions = _registry(tmp_path, db_url)
    upgraded = make_engine(db_url)
    columns = {c["name"] for c in inspect(upgraded).get_columns("sites")}
    upgraded.dispose()
    assert {"escalation", "reminder_every_s", "rules", "active"} <= columns
    with sessions() as session:
        home = session.get(Home, "home-0")
        assert home is not None and (home.rules, home.active) == ({}, False)
    engine = AlertEngine(sessions, notifier, secret="k" * 32, public_url="http://hub.test",
                         clock=FakeClock(), config=config)
    fire(engine, "home-1", "call", "btn")
    await engine.process_due_pages()
    assert who(notifier) == ["a"]
