"""Build an alert engine on its fake clock, feed it events, drive it, and read who it paged."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.alerts import AlertEngine
from hub.config import HubConfig
from hub.db import Alert, Delivery, make_engine, make_sessionmaker
from hub.pager import Notifier
from tests.hub.conftest import FakeClock, RecordingNotifier, site_config

DESK = [{"id": "desk-li", "name": "Li (desk)", "notify": ["json://desk/"]}]
TECHS = [{"id": "tech-wu", "name": "Wu (technician)", "notify": ["json://tech/"]}]


def build(config: HubConfig, notifier: Notifier,
          clock: FakeClock | None = None) -> AlertEngine:
    """Return an engine reading the registry in the config's database (`site_config`)."""
    sessions = make_sessionmaker(make_engine(config.database.url))
    return AlertEngine(sessions, notifier, secret="k" * 32, public_url="http://hub.test",
                       clock=clock or FakeClock(), config=config)


def make(tmp_path: Path, notifier: RecordingNotifier, **sections: Any) -> AlertEngine:
    """Return an engine for the town site of `site_config`, with a desk and a technician."""
    sections.setdefault("desk", DESK)
    sections.setdefault("technicians", TECHS)
    return build(site_config(tmp_path, **sections), notifier)


def fire(engine: AlertEngine, home: str, kind: str, device: str = "mat",
         data: dict[str, Any] | None = None) -> Alert | None:
    """Apply one event now, as ingest would, and commit; return its alert if any."""
    with engine.sessions() as session:
        alert = engine.on_event(session, home, kind, device, engine.clock.now(), data or {})
        session.commit()
        return alert


async def run_until(engine: AlertEngine, seconds: float, step: float = 0.5) -> None:
    """Advance the engine's fake clock by `seconds`, ticking and paging every `step`."""
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    end = clock.t + seconds
    while clock.t < end - 1e-9:
        clock.t = min(end, clock.t + step)
        engine.tick()
        await engine.process_due_pages()


def who(notifier: RecordingNotifier) -> list[str]:
    """Return the names in the URLs paged so far, in order (`json://cg-a/` → `cg-a`)."""
    return [url.split("//")[1].strip("/") for url, _, _ in notifier.sent]


class HasSessions(Protocol):
    """An alert engine or a web context: anything that opens sessions on the hub's store."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...


def clock_of(engine: AlertEngine) -> FakeClock:
    """Return the engine's fake clock, for a test to move."""
    assert isinstance(engine.clock, FakeClock)
    return engine.clock


def state_of(holder: HasSessions, alert_id: int) -> str:
    """Return an alert's state as stored now."""
    with holder.sessions() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert.state


def deliveries(holder: HasSessions) -> list[Delivery]:
    """Return every delivery attempt so far, in order."""
    with holder.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))
