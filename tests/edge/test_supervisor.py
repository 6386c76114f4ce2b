"""A driver task comes back whatever kills it, and one device's failure stays its own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, ClassVar, Self

from edge.agent import Agent
from edge.config import AgentConfig
from edge.drivers.call_button import CallButtonConfig
from edge.items import DeviceEvent, DriverItem


class ScriptedDriver:
    """A driver whose every start runs the next step of a script shared by the test."""

    scripts: ClassVar[dict[str, list[Callable[[], list[DriverItem]]]]] = {}
    starts: ClassVar[dict[str, int]] = {}

    def __init__(self, config: Any) -> None:
        self.id = config.id

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[DriverItem]:
        n = self.starts.get(self.id, 0)
        self.starts[self.id] = n + 1
        script = self.scripts[self.id]
        for item in script[min(n, len(script) - 1)]():
            yield item
        await asyncio.Event().wait()  # then quiet, as a healthy receiver between presses


def _call(device: str) -> list[DriverItem]:
    return [DeviceEvent(device, "call", 1_764_000_000.0, {"button": 1})]


def _raise(exc: BaseException) -> Callable[[], list[DriverItem]]:
    def step() -> list[DriverItem]:
        raise exc
    return step


async def _run(tmp_path: Path, scripts: dict[str, list[Callable[[], list[DriverItem]]]],
               until: Callable[[Agent], bool]) -> Agent:
    ScriptedDriver.scripts, ScriptedDriver.starts = scripts, {}
    config = AgentConfig.model_validate({
        "home": "home-1", "outbox": {"path": str(tmp_path / "o.sqlite")},
        "restart_min_s": 0.001, "restart_max_s": 0.002,
        "devices": [{"type": "call_button", "id": d, "port": "x"} for d in scripts]})
    agent = Agent(config, drivers={"call_button": (CallButtonConfig, ScriptedDriver)})
    stop = asyncio.Event()
    tasks = [asyncio.create_task(agent._supervised_driver(d, stop)) for d in config.devices]
    for _ in range(500):
        if until(agent):
            break
        await asyncio.sleep(0.01)
    assert all(not t.done() for t in tasks)  # every driver task is alive
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return agent


def _kinds(agent: Agent, device: str) -> list[str]:
    rows = [json.loads(r.payload) for r in agent.outbox.peek(1000)]
    return [p["kind"] for p in rows if p.get("device") == device]


async def test_a_crashing_driver_is_restarted_and_the_next_press_arrives(tmp_path: Path) -> None:
    agent = await _run(tmp_path, {
        "btn": [_raise(OSError("unplugged")), _raise(asyncio.CancelledError()),
                lambda: _call("btn")],
        "pendant": [lambda: _call("pendant")],
    }, until=lambda a: "call" in _kinds(a, "btn"))
    print(f"btn restarts {agent.restarters['driver:btn'].restarts}, "
          f"crashes {agent.counters['driver_crashes']}, btn events {_kinds(agent, 'btn')}")
    assert sorted(_kinds(agent, "btn")) == ["call", "device_fault", "device_fault"]
    assert agent.restarters["driver:btn"].restarts == 2
    assert agent.restarters["driver:pendant"].restarts == 0  # the other device never noticed
    assert _kinds(agent, "pendant") == ["call"]


async def test_an_item_the_agent_cannot_handle_does_not_close_the_port(tmp_path: Path) -> None:
    seen: list[str] = []

    def fragile(item: DriverItem) -> None:
        seen.append(item.device)
        if len(seen) == 1:
            raise RuntimeError("outbox bug")
        original(item)

    def two_calls() -> list[DriverItem]:
        return _call("btn") + _call("btn")

    ScriptedDriver.scripts = {"btn": [two_calls]}
    config = AgentConfig.model_validate({
        "home": "home-1", "outbox": {"path": str(tmp_path / "o.sqlite")},
        "restart_min_s": 0.001, "devices": [{"type": "call_button", "id": "btn", "port": "x"}]})
    agent = Agent(config, drivers={"call_button": (CallButtonConfig, ScriptedDriver)})
    original = agent.handle
    agent.handle = fragile  # type: ignore[method-assign]
    ScriptedDriver.starts = {}
    stop = asyncio.Event()
    task = asyncio.create_task(agent._supervised_driver(config.devices[0], stop))
    for _ in range(500):
        if len(seen) >= 2:
            break
        await asyncio.sleep(0.01)
    assert not task.done()
    stop.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    print(f"handled 2, failed {agent.counters['handle_errors']}, driver starts "
          f"{ScriptedDriver.starts['btn']}")
    assert agent.counters["handle_errors"] == 1 and ScriptedDriver.starts["btn"] == 1
    assert _kinds(agent, "btn") == ["call"]
