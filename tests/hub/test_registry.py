"""The registry rows are the engine's one source of sites, homes, people and the rota: an
import writes a file's tables into them once, the registry service changes them, and every
change counts at the next event, without a restart."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.alerts import AlertEngine
from hub.config import ServiceSettings
from hub.db import (
    Caregiver,
    Device,
    Home,
    Resident,
    RotaOverride,
    RotaShift,
    Site,
    make_engine,
    make_sessionmaker,
)
from hub.registry import (
    Conflict,
    NotFound,
    RegistryError,
    create_home,
    create_person,
    create_resident,
    create_site,
    deactivate_home,
    deactivate_person,
    deactivate_resident,
    import_registry,
    set_rota,
    update_home,
    update_person,
    update_resident,
    update_site,
)
from hub.registry.models import HomeIn, PersonIn, ResidentIn, RotaIn, SiteIn
from hub.registry_file import RegistryDocument
from tests.hub.conftest import FakeClock, RecordingNotifier, site_config
from tests.hub.engine import fire, who

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _registry(tmp_path: Path, db_url: str, **sections: Any) -> sessionmaker[Session]:
    site_config(tmp_path, database={"url": db_url}, **sections)
    return make_sessionmaker(make_engine(db_url))


def _engine(sessions: sessionmaker[Session], notifier: RecordingNotifier) -> AlertEngine:
    # The service's settings alone: no site, home or person in them.
    return AlertEngine(sessions, notifier, secret="k" * 32, public_url="http://hub.test",
                       clock=FakeClock(), config=ServiceSettings())


def test_the_import_writes_the_rows(tmp_path: Path, db_url: str) -> None:
    sessions = _registry(
        tmp_path, db_url,
        sites=[{"id": "town", "name": "Town", "reminder_every_s": 45,
                "escalation": [{"role": "oncall", "after_s": 0},
                               {"role": "supervisor", "after_s": 300}],
                "rules": {"low_battery": {"page": True}}}],
        homes=[{"id": "home-1", "site": "town", "resident": {
            "name": "Wang", "rules": {"bed_exit": {"severity": "high"}},
            "doctor_notify": ["json://doc/"], "family": [{"name": "Son",
                                                          "notify": ["json://son/"]}]}}],
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
        [resident] = session.scalars(select(Resident))
        assert (resident.home_id, resident.name, home.resident_name) == ("home-1", "Wang", "Wang")
        contacts = {c.id: (c.role, c.home_id) for c in session.scalars(
            select(Caregiver).where(Caregiver.home_id.is_not(None)))}
        assert contacts == {"fam-home-1-1": ("family", "home-1"),
                            "doc-home-1": ("doctor", "home-1")}
        [shift] = session.scalars(select(RotaShift))
        assert (shift.caregiver_id, shift.days, shift.start, shift.end) == (
            "cg-a", ["mon"], "20:00", "08:00")
        local, utc = session.scalars(select(RotaOverride).order_by(RotaOverride.role.desc()))
        # A time without an offset is the site's local time; one with an offset is kept.
        assert local.start_at == datetime(2026, 11, 25, 12, tzinfo=SHANGHAI).timestamp()
        assert utc.end_at == datetime(2026, 11, 25, 14, tzinfo=ZoneInfo("UTC")).timestamp()


def test_a_second_import_upserts_and_replaces_only_its_sites_rota(
        tmp_path: Path, db_url: str) -> None:
    homes = [{"id": f"home-{i}", "site": "town", "resident": {"name": f"R{i}"}}
             for i in (1, 2)]
    sessions = _registry(
        tmp_path, db_url, homes=homes,
        sites=[{"id": "town", "name": "Town"}, {"id": "hill", "name": "Hill"}],
        caregivers=[{"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
                    {"id": "cg-h", "name": "H", "site": "hill", "notify": ["json://h/"]}],
        shifts=[{"site": "town", "caregiver": "cg-a", "role": "oncall", "days": ["mon"],
                 "start": "08:00", "end": "20:00"},
                {"site": "hill", "caregiver": "cg-h", "role": "oncall", "days": ["mon"],
                 "start": "08:00", "end": "20:00"}])
    with sessions() as session:
        first = session.scalars(select(Resident).where(Resident.home_id == "home-1")).one().id
        import_registry(session, RegistryDocument.model_validate({
            "sites": [{"id": "town", "name": "Town station"}],
            "homes": [{"id": "home-1", "site": "town", "address": "New Road 1",
                       "resident": {"name": "R1 renamed"}}]}))
        # Upserted: the same resident row renamed; home-2, absent from the file, untouched.
        resident = session.scalars(select(Resident).where(Resident.home_id == "home-1")).one()
        assert (resident.id, resident.name) == (first, "R1 renamed")
        assert [(h.id, h.active) for h in session.scalars(select(Home).order_by(Home.id))] == [
            ("home-1", True), ("home-2", True)]
        assert session.get(Site, "town").name == "Town station"  # type: ignore[union-attr]
        # The town's rota is the file's (none); the hill's is kept.
        assert [s.site_id for s in session.scalars(select(RotaShift))] == ["hill"]


async def test_a_home_enrolled_through_the_service_is_paged_at_once(
        tmp_path: Path, db_url: str, notifier: RecordingNotifier,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sessions = _registry(tmp_path, db_url)
    engine = _engine(sessions, notifier)
    with sessions() as session:
        home = create_home(session, HomeIn.model_validate({
            "site": "town", "address": "Hill Lane 3", "key_notes": "key with the neighbour",
            "rules": {"bed_exit": {"page": True}},
            "resident": {"name": "Li Xiu", "care_categories": ["living_alone", "dementia"],
                         "consent": {"bed_sensor": True, "call_button": True}},
            "devices": [{"id": "bed", "type": "bed_sensor", "role": "bedside"}]}))
        session.commit()
        home_id = home.id
        [resident] = session.scalars(select(Resident).where(Resident.home_id == home_id))
        assert [d.id for d in session.scalars(select(Device))] == ["bed"]
    # Opaque ids: no name or place in them.
    assert home_id.startswith("h-") and len(home_id) == 10
    assert resident.id.startswith("r-") and resident.consent["bed_sensor"] is True
    assert resident.consent["fall_mat"] is False
    assert fire(engine, home_id, "bed_exit", "bed") is not None
    await engine.process_due_pages()
    assert who(notifier) == ["a"]
    assert "Li Xiu" in notifier.sent[0][1] and "Hill Lane 3" in notifier.sent[0][2]
    # Names and places are in the SQL rows and the page only: no log line carries them.
    assert "Li Xiu" not in caplog.text and "Hill Lane" not in caplog.text


async def test_people_and_the_rota_change_without_a_restart(
        tmp_path: Path, db_url: str, notifier: RecordingNotifier) -> None:
    sessions = _registry(tmp_path, db_url)
    engine = _engine(sessions, notifier)
    with sessions() as session:
        deactivate_person(session, "cg-a")
        create_person(session, PersonIn(id="cg-new", name="New", role="oncall", site="town",
                                        notify=["json://new/"], phone="138 0000 0000"))
        session.commit()
    fire(engine, "home-1", "call", "btn")
    await engine.process_due_pages()
    assert who(notifier) == ["new"]  # the one who left is not paged; the newcomer is
    with sessions() as session:
        update_person(session, "cg-a", {"name": "A back"})  # an update brings a person back
        set_rota(session, "town", RotaIn.model_validate({"shifts": [
            {"caregiver": "cg-a", "role": "oncall", "days": ["mon", "tue", "wed", "thu", "fri",
                                                         "sat", "sun"],
             "start": "00:00", "end": "23:59"}]}))
        update_site(session, "town", {"escalation": [{"role": "oncall", "after_s": 0}]})
        session.commit()
        assert session.get(Caregiver, "cg-a").active  # type: ignore[union-attr]
        site = session.get(Site, "town")
        assert site is not None and site.name == "Town station"  # the rest as it was
        assert site.escalation == [{"role": "oncall", "after_s": 0.0}]
    fire(engine, "home-1", "fall", "mat")
    await engine.process_due_pages()
    assert who(notifier)[-1] == "a"  # the rota's on-call now


def test_residents_keep_the_pages_name_and_changes_are_validated(
        tmp_path: Path, db_url: str) -> None:
    sessions = _registry(tmp_path, db_url)
    with sessions() as session:
        second = create_resident(session, ResidentIn(home="home-1", name="Zhou Lan"))
        home = session.get(Home, "home-1")
        assert home is not None and home.resident_name == "Wang Guirong、Zhou Lan"
        deactivate_resident(session, second.id)
        assert home.resident_name == "Wang Guirong"
        update_resident(session, second.id, {"birth_year": 1938, "allergies": "penicillin"})
        assert (second.birth_year, second.allergies, second.active) == (1938, "penicillin",
                                                                         True)
        with pytest.raises(RegistryError, match="birth_year"):
            update_resident(session, second.id, {"birth_year": 1500})
        with pytest.raises(RegistryError, match="name"):
            update_resident(session, second.id, {"name": None})
        update_home(session, "home-1", {"lat": 30.1, "lon": 120.2, "door_notes": "3rd floor"})
        assert (home.lat, home.door_notes, home.address) == (30.1, "3rd floor",
                                                             "Qingshan Road 12")
        with pytest.raises(RegistryError, match="site: unknown site 'nowhere'"):
            update_home(session, "home-1", {"site": "nowhere"})
        with pytest.raises(NotFound, match="no home 'home-9'"):
            deactivate_home(session, "home-9")
        with pytest.raises(Conflict, match="exists"):
            create_site(session, SiteIn(id="town", name="Again"))
        with pytest.raises(Conflict, match="exists"):
            create_home(session, HomeIn(id="home-1", site="town"))
        with pytest.raises(RegistryError, match="home: a family contact belongs to one home"):
            create_person(session, PersonIn(name="Son", role="family", notify=["json://s/"]))
        with pytest.raises(RegistryError, match="not staff of site 'town'"):
            set_rota(session, "town", RotaIn.model_validate({"shifts": [
                {"caregiver": "nobody", "role": "oncall", "days": ["mon"], "start": "08:00",
                 "end": "20:00"}]}))
        deactivate_home(session, "home-1")
        session.commit()
        assert not home.active
