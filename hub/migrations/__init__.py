"""The hub's schema migrations (Alembic), run by `hub.db.make_engine` at every start.

Revisions live in `versions/`, one module each, named `<NNNN>_<what>.py` with that name as
the revision id. No `alembic.ini` is needed: `alembic_config()` points Alembic here.
"""

from __future__ import annotations

import importlib
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

# The schema of release 0.1.0, made by `create_all` before there were migrations.
BASELINE = "0001_baseline"
# Any one table of the baseline: a database holding it without `alembic_version` is 0.1.0's.
_BASELINE_TABLE = "alerts"
# Two hub processes starting together on PostgreSQL migrate one after the other.
_PG_LOCK = 0x62656477
# Every module that defines tables on `hub.db.Base`: a draft compares the database with them.
MODEL_MODULES = ("hub.db", "hub.accounts")


class MigrationError(RuntimeError):
    """The database cannot be brought to this version's schema (e.g. it is newer)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic config for the hub's migrations, migrating `connection` if given."""
    config = Config()
    config.set_main_option("script_location", "hub:migrations")
    config.set_main_option("file_template", "%%(rev)s")  # versions/<NNNN>_<what>.py
    config.attributes["connection"] = connection
    return config


@cache
def scripts() -> ScriptDirectory:
    """Return the migration scripts (read once per process)."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """Return the newest revision this code knows."""
    heads = scripts().get_heads()
    if len(heads) != 1:
        raise MigrationError(f"the migrations have {len(heads)} heads {heads}: merge them")
    return heads[0]


def current(connection: Connection) -> tuple[str, ...]:
    """Return the revisions the database is stamped with (empty: none)."""
    return MigrationContext.configure(connection).get_current_heads()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database of `engine` to `revision` (default: this code's newest)."""
    target = head() if revision == "head" else revision
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        stamped = current(connection)
        if stamped == (target,):
            return
        for rev in stamped:
            try:
                scripts().get_revision(rev)
            except CommandError as exc:
                raise MigrationError(
                    f"the database {engine.url.render_as_string(hide_password=True)} is at "
                    f"schema revision {rev!r}, which this version of bedwatch does not know "
                    f"(its newest is {head()!r}): a newer version has upgraded it. Run that "
                    "version, or restore a backup taken before the upgrade.") from exc
        config = alembic_config(connection)
        if not stamped and inspect(connection).has_table(_BASELINE_TABLE):
            command.stamp(config, BASELINE)
        command.upgrade(config, target)


def draft(engine: Engine, rev_id: str, message: str) -> None:
    """Write `versions/<rev_id>_<message>.py`: what the models add to the database of
    `engine` (upgraded to the head first), for a person to read and correct."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    upgrade(engine)
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True,
                         rev_id=rev_id)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database of `engine` back to `revision` (the migrations' downgrade steps)."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)
