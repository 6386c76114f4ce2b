"""The recipes of docs/architecture.md, each done once with a toy: a new event kind, device,
detector, pager channel and API route, each reaching the place it is meant to reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal, Self

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select

from bedwatch import kinds, wire
from edge.agent import Agent
from edge.config import AgentConfig
from edge.detectors import wiring
from edge.drivers import DRIVERS
from edge.drivers.base import DeviceConfigBase
from edge.items import DeviceEvent, DriverItem, Observation
from hub.db import Home
from hub.pager import DeliveryResult
from hub.web import create_app
from hub.web.deps import SessionDep
from tests.hub.conftest import RecordingNotifier, site_config
from tests.hub.engine import build, fire, run_until
from tests.hub.webapp import hubless_context


@pytest.fixture
def toy_kind(monkeypatch: pytest.MonkeyPatch) -> str:
    """A new kind: one row of the table, nothing else."""
    row = kinds.EventKind("toy_wandering", kinds.Severity.HIGH, "Wandering at night",
                          alert=kinds.AlertRule("high"))
    monkeypatch.setitem(kinds.KINDS, row.name, row)
    monkeypatch.setitem(kinds.DEFAULT_SEVERITY, row.name, row.severity)
    assert row.alert is not None
    monkeypatch.setitem(kinds.RULES, row.name, row.alert)
    return row.name


async def test_a_new_kind_is_one_row_and_reaches_a_page(tmp_path: Path, toy_kind: str) -> None:
    notifier = RecordingNotifier()
    engine = build(site_config(tmp_path), notifier)
    alert = fire(engine, "home-1", toy_kind)
    await run_until(engine, 1)
    assert alert is not None and alert.severity == "high"
    [(url, title, _)] = notifier.sent
    assert url == "json://a/" and "Wandering at night" in title
    # Its Chinese comes from the catalogue (a real row's msgid is there: tests/test_i18n.py).
    assert kinds.kind_text(toy_kind, "en") == "Wandering at night"


class ToyConfig(DeviceConfigBase):
    type: Literal["toy"]


class ToyDriver:
    """A device that says one thing: its button was pressed."""

    def __init__(self, config: ToyConfig) -> None:
        self.config = config

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[DriverItem]:
        return self._items()

    async def _items(self) -> AsyncIterator[DriverItem]:
        yield DeviceEvent(self.config.id, "call", 1_764_000_000.0, {"source": "toy"})


async def test_a_new_device_is_a_driver_in_the_registry_and_its_call_reaches_the_outbox(
        tmp_path: Path) -> None:
    device = ToyConfig(type="toy", id="toy-button")
    config = AgentConfig.model_validate({"home": "home-1", "outbox": {
        "path": str(tmp_path / "outbox.sqlite")}})
    # The registry decides which device types a config accepts; the toy joins it here.
    config = config.model_copy(update={"devices": [device]})
    agent = Agent(config, drivers={**DRIVERS, "toy": (ToyConfig, ToyDriver)})
    try:
        async with agent._driver(device) as driver:
            async for item in driver:
                agent.handle(item)
        [row] = agent.outbox.peek(10)
        assert row.topic == wire.events_topic("home-1")
        assert b'"kind":"call"' in row.payload and b'"toy-button"' in row.payload
    finally:
        agent.outbox.close()


class ToyDetector:
    """Raises the toy kind whenever a heart rate above 120 arrives."""

    def feed(self, item: Any) -> list[Any]:
        if isinstance(item, Observation) and item.fields.get("heart_rate_bpm", 0) > 120:
            return [DeviceEvent(item.device, "toy_wandering", item.t, {})]
        return []


def test_a_new_detector_is_a_row_of_the_wiring_table(monkeypatch: pytest.MonkeyPatch,
                                                      toy_kind: str) -> None:
    spec = wiring.DetectorSpec("bp", (wiring.BED_BOARD,), {}, lambda c, tz: ToyDetector().feed)
    monkeypatch.setattr(wiring, "DETECTORS", (spec,))
    bed = type("Bed", (), {"type": "bed_sensor", "id": "bed"})()
    [feed] = wiring.build(wiring.DetectorsConfig(), [bed])
    out = feed(Observation("bed", "vitals", 1_764_000_000.0, {"heart_rate_bpm": 130.0}))
    assert [e.kind for e in out] == [toy_kind]


class ToyChannel:
    """A channel delivered by a Notifier of its own (its URLs still pass the registry's
    apprise check: hub.channels)."""

    def __init__(self) -> None:
        self.got: list[str] = []

    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        if not url.startswith("json://toy/"):
            return DeliveryResult(False, url, "not a toy URL")
        self.got.append(title)
        return DeliveryResult(True, url)


async def test_a_new_channel_is_a_notifier(tmp_path: Path) -> None:
    channel = ToyChannel()
    config = site_config(tmp_path, caregivers=[
        {"id": "cg-a", "name": "A", "site": "town", "notify": ["json://toy/a"]}])
    engine = build(config, channel)
    fire(engine, "home-1", "fall")
    await run_until(engine, 1)
    assert len(channel.got) == 1 and "Fall detected" in channel.got[0]


class Count(BaseModel):
    homes: int


def test_a_new_route_is_a_router_over_the_dependencies(tmp_path: Path) -> None:
    router = APIRouter(prefix="/api/toy")

    @router.get("/count")
    async def count(session: SessionDep) -> Count:
        return Count(homes=session.scalar(select(func.count()).select_from(Home)) or 0)

    app = create_app(hubless_context(site_config(tmp_path)))
    app.include_router(router)
    assert TestClient(app).get("/api/toy/count").json() == {"homes": 1}


def test_the_toys_leave_the_tables_as_they_were() -> None:
    # The fixtures put rows in the shared tables for one test only.
    assert "toy_wandering" not in kinds.KINDS and "toy" not in DRIVERS
    assert "toy_wandering" not in kinds.RULES
