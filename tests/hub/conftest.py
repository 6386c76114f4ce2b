"""Hub test helpers: a config for one town site (its registry in the config's database) and
a notifier that records pages."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub.config import HubConfig
from hub.db import make_engine, make_sessionmaker
from hub.pager import DeliveryResult
from hub.registry import import_registry
from hub.registry_file import REGISTRY_KEYS, RegistryDocument


class FakeClock:
    """The engine's clock, moved by the test."""

    def __init__(self, t: float = 1_764_000_000.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


@dataclass
class RecordingNotifier:
    """Stands in for apprise where the delivery channel itself is not under test."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        if url in self.failing:
            return DeliveryResult(False, url, "refused")
        self.sent.append((url, title, body))
        return DeliveryResult(True, url)


def site_config(tmp_path: Path, **sections: object) -> HubConfig:
    """Return the service config of one town site, its registry imported into its database.

    `sections` replace sections of either: the registry's (`sites`, `homes`, `caregivers`,
    `shifts`, `overrides`, `desk`, `technicians`) or the service's.
    """
    raw: dict[str, object] = {
        "database": {"url": f"sqlite:///{tmp_path / 'hub.sqlite'}"},
        "api": {"secret": "x" * 32, "public_url": "http://hub.test"},
        "sites": [{"id": "town", "name": "Town station", "kind": "urban"}],
        "homes": [{"id": "home-1", "site": "town", "address": "Qingshan Road 12",
                   "resident": {"name": "Wang Guirong"}}],
        "caregivers": [
            {"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
            {"id": "cg-b", "name": "B", "site": "town", "role": "backup", "notify": ["json://b/"]},
        ],
    }
    raw.update(sections)
    config = HubConfig.model_validate({k: v for k, v in raw.items() if k not in REGISTRY_KEYS})
    import_into(config.database.url, RegistryDocument.model_validate(
        {k: v for k, v in raw.items() if k in REGISTRY_KEYS}))
    return config


def import_into(url: str, document: RegistryDocument) -> None:
    """Import registry tables into the database at `url`, as `bedwatch hub import-registry`."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            import_registry(session, document)
    finally:
        engine.dispose()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


POSTGRES_ADMIN_URL = os.environ.get("BEDWATCH_TEST_POSTGRES",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2):
            return True
    except Exception:
        return False


@contextlib.contextmanager
def fresh_postgres(prefix: str, why: str) -> Iterator[str]:
    """Yield the URL of a new PostgreSQL database, dropped afterwards; skip the test, saying
    `why` it needs one, when no server answers."""
    if not _postgres_available():
        pytest.skip(f"no PostgreSQL server at {POSTGRES_ADMIN_URL}{why} "
                    "(set BEDWATCH_TEST_POSTGRES to test against one)")
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The hub's SQL store: SQLite always, PostgreSQL where a server is present."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite'}"
        return
    with fresh_postgres("bedwatch_test", "") as url:
        yield url
