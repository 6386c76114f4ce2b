"""`bedwatch hub check` reads the registry as the engine will: a contact whose channel cannot
deliver fails it (exit 2, the person and the masked URL named); a station without a backup,
a time in the coming week when nobody (or only the standing on-call, outside the rota) is on
call, and a person nobody can reach are warnings; a clean registry passes without any."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bedwatch.cli import app
from hub.checks import Finding, check_database, check_registry
from hub.db import Caregiver, make_engine, make_sessionmaker
from tests.hub.conftest import site_config
from tests.hub.engine import DESK, TECHS

# Monday 30 November 2026, 00:00 at the station (Asia/Shanghai).
MONDAY = datetime(2026, 11, 30, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
EVERY_DAY = [*WEEKDAYS, "sat", "sun"]


def staff(person: str, role: str = "oncall") -> dict[str, Any]:
    return {"id": person, "name": person.upper(), "site": "town", "role": role,
            "notify": [f"json://{person}/"]}


def shift(person: str, days: list[str], start: str, end: str,
          role: str = "oncall") -> dict[str, Any]:
    return {"site": "town", "caregiver": person, "role": role, "days": days, "start": start,
            "end": end}


def findings(tmp_path: Path, change: Any = None, **sections: Any) -> list[Finding]:
    """Return the findings of `site_config`'s registry (with a desk and a technician) on
    Monday at midnight, after `change(session)` if given."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    sections.setdefault("desk", DESK)
    sections.setdefault("technicians", TECHS)
    engine = make_engine(site_config(tmp_path, **sections).database.url)
    try:
        with make_sessionmaker(engine)() as session:
            if change is not None:
                change(session)
                session.commit()
            return check_registry(session, MONDAY)
    finally:
        engine.dispose()


def of(found: list[Finding], kind: str) -> list[str]:
    return [f.message for f in found if f.kind == kind]


def test_a_clean_registry_has_no_findings(tmp_path: Path) -> None:
    assert findings(tmp_path) == []


def test_a_rota_that_covers_the_whole_week_has_no_findings(tmp_path: Path) -> None:
    assert findings(tmp_path, caregivers=[staff("cg-a"), staff("cg-b", "backup"),
                                          staff("cg-n", "supervisor")],
                    shifts=[shift("cg-a", EVERY_DAY, "08:00", "20:00"),
                            shift("cg-n", EVERY_DAY, "20:00", "08:00")]) == []


def _break_channels(session: Session) -> None:
    # As a database written before URLs were checked may hold them.
    a, b = session.get(Caregiver, "cg-a"), session.get(Caregiver, "cg-b")
    assert a is not None and b is not None
    a.notify = ["json://a/", "wecom://corpid/s3cr3t/agentid"]
    b.notify = ["ntfyy://x"]


def test_a_channel_that_cannot_deliver_is_an_error_naming_person_and_url(
        tmp_path: Path) -> None:
    found = findings(tmp_path, _break_channels)
    assert [(f.level, f.kind, f.subject) for f in found] == [
        ("error", "bad_channel", "cg-a"), ("error", "bad_channel", "cg-b"),
        ("warning", "no_working_channel", "cg-b")]
    assert found[0].message.startswith("person 'cg-a' (A): notify[1] 'wecom://...' cannot "
                                       "deliver: ")
    assert "s3cr3t" not in found[0].message
    assert "unknown channel type 'ntfyy://'" in found[1].message


def test_a_person_without_any_channel_is_a_warning(tmp_path: Path) -> None:
    def silence(session: Session) -> None:
        desk = session.get(Caregiver, "desk-li")
        assert desk is not None
        desk.notify = []

    found = findings(tmp_path, silence)
    assert [(f.level, f.kind, f.subject) for f in found] == [
        ("warning", "no_working_channel", "desk-li")]
    assert "person 'desk-li' (Li (desk)), desk of the organisation, has no working channel " \
        "(no channel at all)" in found[0].message


def test_a_station_without_a_backup_is_a_warning(tmp_path: Path) -> None:
    alone = findings(tmp_path, caregivers=[staff("cg-a")])
    assert of(alone, "no_backup") == [
        "site 'town' (Town station) has no backup: nobody has the standing role backup and the "
        "rota names no backup in the coming week, so an alert nobody acknowledges skips that "
        "step"]
    on_shift = findings(tmp_path / "shift", caregivers=[staff("cg-a"), staff("cg-c")],
                        shifts=[shift("cg-c", ["sat"], "08:00", "20:00", "backup")])
    assert of(on_shift, "no_backup") == []
    # An override counts in the coming week only.
    later = {"site": "town", "caregiver": "cg-c", "role": "backup",
             "start": "2026-12-08T08:00:00", "end": "2026-12-08T20:00:00"}
    assert of(findings(tmp_path / "later", caregivers=[staff("cg-a"), staff("cg-c")],
                       overrides=[later]), "no_backup") != []
    soon = {**later, "start": "2026-12-01T08:00:00", "end": "2026-12-01T20:00:00"}
    assert of(findings(tmp_path / "soon", caregivers=[staff("cg-a"), staff("cg-c")],
                       overrides=[soon]), "no_backup") == []


def test_a_chain_without_a_backup_step_needs_no_backup(tmp_path: Path) -> None:
    site = {"id": "town", "name": "Town station",
            "escalation": [{"role": "oncall", "after_s": 0}, {"role": "family", "after_s": 300}]}
    assert findings(tmp_path, sites=[site], caregivers=[staff("cg-a")]) == []


def test_times_with_nobody_on_call_are_rota_gaps(tmp_path: Path) -> None:
    # Nobody holds the standing role oncall: outside the day shifts, nobody is on call.
    found = findings(tmp_path, caregivers=[staff("cg-a", "backup"), staff("cg-b", "backup")],
                     shifts=[shift("cg-a", WEEKDAYS, "08:00", "20:00")])
    gaps = of(found, "rota_gap")
    assert len(gaps) == 6 and [f.kind for f in found] == ["rota_gap"] * 6
    assert gaps[0] == ("site 'town' (Town station): nobody is on call from Mon 2026-11-30 00:00 "
                       "to Mon 2026-11-30 08:00 (Asia/Shanghai); alerts then go straight to "
                       "the next step of the chain")
    assert "from Mon 2026-11-30 20:00 to Tue 2026-12-01 08:00" in gaps[1]
    assert "from Fri 2026-12-04 20:00 to Mon 2026-12-07 00:00" in gaps[5]


def test_an_override_fills_a_gap_and_a_departed_caregiver_opens_one(tmp_path: Path) -> None:
    night = {"site": "town", "caregiver": "cg-b", "role": "oncall",
             "start": "2026-11-30T20:00:00", "end": "2026-12-01T08:00:00"}
    gaps = of(findings(tmp_path, caregivers=[staff("cg-a", "backup"), staff("cg-b", "backup")],
                       shifts=[shift("cg-a", EVERY_DAY, "08:00", "20:00"),
                               shift("cg-b", EVERY_DAY, "20:00", "08:00")],
                       overrides=[night]), "rota_gap")
    assert gaps == []

    def leave(session: Session) -> None:
        gone = session.get(Caregiver, "cg-b")
        assert gone is not None
        gone.active = False

    gaps = of(findings(tmp_path / "left", leave,
                       caregivers=[staff("cg-a", "backup"), staff("cg-b", "backup")],
                       shifts=[shift("cg-a", EVERY_DAY, "08:00", "20:00"),
                               shift("cg-b", EVERY_DAY, "20:00", "08:00")]), "rota_gap")
    assert len(gaps) == 8 and "nobody is on call from Mon 2026-11-30 00:00" in gaps[0]


def test_times_outside_the_rota_fall_back_to_the_standing_oncall(tmp_path: Path) -> None:
    found = findings(tmp_path, caregivers=[staff("cg-a"), staff("cg-b", "backup"),
                                           staff("cg-n")],
                     shifts=[shift("cg-a", EVERY_DAY, "08:00", "20:00"),
                             shift("cg-n", ["mon", "tue", "wed", "thu", "fri", "sat"],
                                   "20:00", "08:00")])
    assert of(found, "rota_gap") == [
        "site 'town' (Town station): no shift or override has anyone on call from Mon "
        "2026-11-30 00:00 to Mon 2026-11-30 08:00 (Asia/Shanghai); the standing on-call "
        "(cg-a, cg-n) are paged",
        "site 'town' (Town station): no shift or override has anyone on call from Sun "
        "2026-12-06 20:00 to Mon 2026-12-07 00:00 or later (Asia/Shanghai); the standing on-call "
        "(cg-a, cg-n) are paged"]


# -- the command ---------------------------------------------------------------------------


def _hub_toml(tmp_path: Path) -> str:
    path = tmp_path / "hub.toml"
    path.write_text('[database]\nurl = "sqlite:///hub.sqlite"\n[api]\nsecret = "'
                    + "x" * 32 + '"\n')
    return str(path)


def check(config: str) -> Any:
    return CliRunner().invoke(app, ["hub", "check", "--config", config])


def test_the_command_fails_naming_the_person_and_the_url(tmp_path: Path) -> None:
    findings(tmp_path, _break_channels)
    result = check(_hub_toml(tmp_path))
    assert result.exit_code == 2, result.output
    assert "error: person 'cg-a' (A): notify[1] 'wecom://...' cannot deliver: " in result.output
    assert "error: person 'cg-b' (B): notify[0] 'ntfyy://...' cannot deliver: " in result.output
    assert "warning: person 'cg-b' (B), backup of town, has no working channel" in result.output
    assert "registry: 2 error(s), 1 warning(s)" in result.output
    assert "s3cr3t" not in result.output


def test_the_command_warns_and_passes(tmp_path: Path) -> None:
    findings(tmp_path, caregivers=[staff("cg-a")])
    result = check(_hub_toml(tmp_path))
    assert result.exit_code == 0, result.output
    assert "warning: site 'town' (Town station) has no backup" in result.output
    assert "registry: 0 error(s), 1 warning(s)" in result.output


def test_the_command_passes_a_clean_registry(tmp_path: Path) -> None:
    findings(tmp_path)
    result = check(_hub_toml(tmp_path))
    assert result.exit_code == 0, result.output
    assert "registry: 0 error(s), 0 warning(s)" in result.output
    assert "warning:" not in result.output


def test_the_command_without_a_database_checks_the_config_only(tmp_path: Path) -> None:
    result = check(_hub_toml(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"warning: no database at {tmp_path / 'hub.sqlite'} yet" in result.output
    assert not (tmp_path / "hub.sqlite").exists()


def test_a_database_of_another_schema_revision_is_not_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0002_registry'")
    engine.dispose()
    found, skipped = check_database(url, MONDAY)
    assert found == [] and skipped is not None and "schema revision 0002_registry" in skipped
