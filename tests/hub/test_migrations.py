"""Schema migrations: a database of release 0.1.0 (made by that release's code, with alerts,
pages and audit in it) is upgraded with every row kept; the models equal the migrations; the
registry migration goes back down; a database newer than the code is refused."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from hub.alerts import AlertEngine
from hub.config import ServiceSettings
from hub.db import Base, Caregiver, Home, Resident, Site, make_engine, make_sessionmaker
from hub.migrations import BASELINE, MigrationError, current, downgrade, head, upgrade
from tests.hub.conftest import FakeClock, RecordingNotifier
from tests.hub.engine import fire, who

DATA = Path(__file__).resolve().parents[1] / "data"
# Made by tests/data/make_hub_db_0_1_0.py with the code of release 0.1.0.
DUMPS = {"sqlite": DATA / "hub-db-0.1.0.sqlite.sql", "postgresql": DATA / "hub-db-0.1.0.pg.sql"}


def load_dump(url: str) -> None:
    """Fill the empty database at `url` from the dump of release 0.1.0 of its dialect."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with sqlite3.connect(str(parsed.database)) as connection:
            connection.executescript(DUMPS["sqlite"].read_text())
        return
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(DUMPS["postgresql"].read_text().encode())


def snapshot(url: str) -> dict[str, set[tuple[Any, ...]]]:
    """Return every row of every table, as tuples in column-name order."""
    engine = create_engine(url)
    rows: dict[str, set[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            if table == "alembic_version":
                continue
            names = sorted(c["name"] for c in inspect(connection).get_columns(table))
            quoted = ", ".join(f'"{n}"' for n in names)
            rows[table] = {tuple(str(v) for v in row) for row in connection.execute(
                text(f'SELECT {quoted} FROM "{table}"'))}
            rows[f"{table}:columns"] = {tuple(names)}
    engine.dispose()
    return rows


def _old_columns(after: dict[str, set[tuple[Any, ...]]], table: str,
                 names: tuple[str, ...]) -> set[tuple[Any, ...]]:
    [now_names] = after[f"{table}:columns"]
    index = [now_names.index(n) for n in names]
    return {tuple(row[i] for i in index) for row in after[table]}


async def test_a_database_of_release_0_1_0_is_upgraded_with_every_row(
        db_url: str, notifier: RecordingNotifier) -> None:
    load_dump(db_url)
    before = snapshot(db_url)
    assert len(before["alerts"]) == 5 and len(before["deliveries"]) == 12
    assert len(before["audit"]) > 20 and len(before["caregivers"]) == 7
    engine = make_engine(db_url)  # stamped as the baseline, then upgraded
    with engine.connect() as connection:
        assert current(connection) == (head(),)
    after = snapshot(db_url)
    for key, rows in before.items():
        if key.endswith(":columns"):
            continue
        [names] = before[f"{key}:columns"]
        assert _old_columns(after, key, names) == rows, key
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        home = session.get(Home, "home-1")
        assert home is not None and home.resident_name == "Wang Guirong"
        assert (home.door_notes, home.key_notes, home.phone, home.lat, home.lon) == (
            "", "", "", None, None)
        assert all(c.phone == "" for c in session.scalars(select(Caregiver)))
        assert all(s.organisation_id is None for s in session.scalars(select(Site)))
        # Every home has its resident now, with nothing recorded beyond the name.
        residents = {r.home_id: r for r in session.scalars(select(Resident))}
        assert {h: r.name for h, r in residents.items()} == {
            "home-1": "Wang Guirong", "home-2": "Li Xiu", "home-3": "Zhao Ming"}
        one = residents["home-1"]
        assert one.id.startswith("r-") and len(one.id) == 10
        assert (one.consent, one.care_categories, one.active, one.birth_year) == (
            {}, [], True, None)
    # The engine carries on with the upgraded rows: a new call pages the town's on-call.
    alerts = AlertEngine(sessions, notifier, secret="k" * 32, public_url="http://hub.test",
                         clock=FakeClock(1_764_000_000.0 + 7 * 86400), config=ServiceSettings())
    fire(alerts, "home-2", "call", "btn")
    await alerts.process_due_pages()
    assert "a" in who(notifier)
    engine.dispose()


def test_the_models_equal_the_migrations(db_url: str) -> None:
    if importlib.util.find_spec("hub.accounts") is not None:
        importlib.import_module("hub.accounts")  # its tables join Base.metadata
    engine = make_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_the_registry_migration_goes_down_and_up_again(db_url: str) -> None:
    engine = make_engine(db_url)
    downgrade(engine, BASELINE)
    tables = inspect(engine)
    assert not tables.has_table("residents") and not tables.has_table("organisations")
    assert "organisation_id" not in {c["name"] for c in tables.get_columns("sites")}
    assert "phone" not in {c["name"] for c in tables.get_columns("homes")}
    upgrade(engine)
    with engine.connect() as connection:
        assert current(connection) == (head(),)
    assert inspect(engine).has_table("residents")
    engine.dispose()


def test_a_database_newer_than_the_code_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    engine.dispose()
    with pytest.raises(MigrationError, match="'0099_future', which this version of bedwatch "
                                             "does not know"):
        make_engine(db_url)
