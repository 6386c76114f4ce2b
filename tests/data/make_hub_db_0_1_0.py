"""Make the database of release 0.1.0 that tests/hub/test_migrations.py upgrades.

Run with the code of that release (commit 44354f9) on the path, e.g.

    git worktree add /tmp/bw-prev 44354f9
    PYTHONPATH=/tmp/bw-prev python tests/data/make_hub_db_0_1_0.py sqlite:////tmp/hub.sqlite
    sqlite3 /tmp/hub.sqlite .dump > tests/data/hub-db-0.1.0.sqlite.sql

and for PostgreSQL, into an empty database `bw_prev`:

    PYTHONPATH=/tmp/bw-prev python tests/data/make_hub_db_0_1_0.py \
        postgresql+psycopg://postgres@127.0.0.1/bw_prev
    pg_dump --inserts --no-owner --no-privileges -h 127.0.0.1 -U postgres bw_prev \
        > tests/data/hub-db-0.1.0.pg.sql

It writes the registry of a sample config and raises, pages, acknowledges, resolves and
silences alerts through that release's alert engine, so every table holds rows.
"""

from __future__ import annotations

import asyncio
import sys

from hub.alerts import AlertEngine
from hub.config import HubConfig
from hub.db import AgentState, DeadLetter, EventRecord, make_engine, make_sessionmaker
from hub.pager import DeliveryResult
from hub.registry import sync_registry

T0 = 1_764_000_000.0


class Clock:
    t = T0

    def now(self) -> float:
        return self.t


class Notifier:
    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        if "fail" in url:
            return DeliveryResult(False, url, "refused")
        return DeliveryResult(True, url)


CONFIG = {
    "database": {"url": sys.argv[1] if len(sys.argv) > 1 else "sqlite:///hub.sqlite"},
    "api": {"secret": "s" * 32},
    "sites": [{"id": "town", "name": "Town station", "kind": "urban",
               "rules": {"low_battery": {"page": True}}},
              {"id": "village", "name": "Village station", "kind": "rural"}],
    "homes": [
        {"id": "home-1", "site": "town", "address": "Qingshan Road 12",
         "resident": {"name": "Wang Guirong", "doctor_notify": ["json://doctor/"],
                      "family": [{"name": "Son", "notify": ["json://son/"]}],
                      "rules": {"bed_exit": {"page": True}}}},
        {"id": "home-2", "site": "town", "address": "Hill Lane 3",
         "resident": {"name": "Li Xiu"}},
        {"id": "home-3", "site": "village", "address": "Shangping 7",
         "resident": {"name": "Zhao Ming"}},
    ],
    "caregivers": [
        {"id": "cg-a", "name": "Zhang Min", "site": "town", "notify": ["json://a/"]},
        {"id": "cg-b", "name": "Huang Li", "site": "town", "role": "backup",
         "notify": ["json://fail-b/", "json://b/"]},
        {"id": "cg-v", "name": "Chen Bo", "site": "village", "notify": ["json://v/"]},
    ],
    "shifts": [{"site": "town", "caregiver": "cg-a", "role": "oncall",
                "days": ["mon", "tue"], "start": "20:00", "end": "08:00"}],
    "overrides": [{"site": "town", "caregiver": "cg-b", "role": "oncall",
                   "start": "2026-11-25T12:00", "end": "2026-11-25T14:00"}],
    "desk": [{"id": "desk-li", "name": "Li Na", "notify": ["json://desk/"]}],
    "technicians": [{"id": "tech-wu", "name": "Wu Gang", "notify": ["json://tech/"]}],
}


async def main() -> None:
    config = HubConfig.model_validate(CONFIG)
    sessions = make_sessionmaker(make_engine(config.database.url))
    with sessions() as session:
        sync_registry(session, config)
    clock = Clock()
    engine = AlertEngine(sessions, Notifier(), secret="s" * 32, public_url="http://hub.test",
                         clock=clock, config=config)
    with sessions() as session:
        for order, (home, kind, device) in enumerate(
                [("home-1", "call", "btn"), ("home-2", "fall", "mat"),
                 ("home-3", "low_battery", "mat"), ("home-9", "call", "btn")], start=1):
            alert = engine.on_event(session, home, kind, device, clock.t, {"n": order})
            session.add(EventRecord(home=home, id=f"e-{order}", device=device, kind=kind,
                                    severity="critical", seq=order, t=clock.t,
                                    data={"n": order}, received_at=clock.t,
                                    received_order=order,
                                    alert_id=alert.id if alert is not None else None))
        session.add(AgentState(home="home-1", state="online", version="0.1.0",
                               outbox_depth=0, clock_synced=True, t=clock.t, updated_at=clock.t))
        session.add(DeadLetter(at=clock.t, topic="bw/v1/home-2/events", payload=b"\xff{",
                               error="not JSON", attempts=3, home="home-2"))
        session.commit()
    await engine.process_due_pages()
    clock.t += 200
    engine.tick()
    await engine.process_due_pages()
    engine.transition(1, "acknowledged", "cg-a")
    engine.transition(1, "on_site", "cg-a")
    engine.transition(1, "resolved", "cg-a", resolution="real", note="helped up")
    engine.silence("home-2", "cg-a", 3600, "on site")


asyncio.run(main())
