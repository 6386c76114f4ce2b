"""A care organisation on this machine, as the demo runs it: real servers, hub and agents as
separate `bedwatch` processes, simulated devices on pseudo-terminals, pages to a local sink.

Loaded as a pytest plugin by `tests/conftest.py`, so `site` is a fixture everywhere."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bedwatch.localsite import (
    CaregiverSpec,
    HomeSpec,
    Program,
    edge_config,
    get_json,
    hub_config,
    wait_http,
    write_toml,
)
from bedwatch.sink import NotificationSink
from bedwatch.stack import InfluxDB, Mosquitto, free_port
from firmware_sim.call_button import CallButtonSim


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll `predicate` until it returns something true or `timeout` passes; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


@dataclass
class Site:
    root: Path
    mosquitto: Mosquitto
    influxdb: InfluxDB
    sink: NotificationSink
    database: str
    api: str = ""
    hub: Program | None = None
    agents: dict[str, Program] = field(default_factory=dict)
    buttons: dict[str, CallButtonSim] = field(default_factory=dict)
    homes: list[HomeSpec] = field(default_factory=list)

    def get(self, path: str) -> Any:
        return get_json(f"{self.api}{path}")

    def start_hub(self, caregivers: list[CaregiverSpec] | None = None,
                  site: dict[str, Any] | None = None, **extra: Any) -> Program:
        doc = hub_config(
            workdir=self.root / "hub", mqtt_port=self.mosquitto.port,
            influx_url=self.influxdb.url, api_port=int(self.api.rsplit(":", 1)[1]),
            homes=self.homes, database=self.database,
            caregivers=caregivers or [CaregiverSpec("cg-zhang", "Zhang Min", "town",
                                                    [self.sink.url("cg-zhang")])],
            sites=[{"id": "town", "name": "Town station", "kind": "urban", **(site or {})}])
        doc["api"]["secret"] = "e2e-" + "s" * 28  # the same key across restarts
        doc.update(extra)
        path = write_toml(self.root / "hub" / "hub.toml", doc)
        self.hub = Program("hub", ["hub", "run", "--config", str(path)],
                           self.root / "hub" / "hub.log").start()
        wait_http(f"{self.api}/healthz", program=self.hub)
        return self.hub

    def start_agent(self, home: HomeSpec) -> Program:
        path = write_toml(self.root / home.id / "edge.toml", edge_config(
            home=home, mqtt_port=self.mosquitto.port, workdir=self.root / home.id))
        agent = Program(home.id, ["edge", "run", "--config", str(path)],
                        self.root / home.id / "edge.log").start()
        self.agents[home.id] = agent
        return agent


@pytest.fixture
def site(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> Iterator[Site]:
    with NotificationSink() as sink:
        state = Site(tmp_path, mosquitto, influxdb, sink, f"e2e_{uuid.uuid4().hex[:8]}",
                     api=f"http://127.0.0.1:{free_port()}")
        for i in range(2):
            home_id = f"home-{i + 1:03d}"
            sim = CallButtonSim(tmp_path / "devices" / home_id, heartbeat_s=0.5,
                                buttons=[100 + i]).start()
            state.buttons[home_id] = sim
            state.homes.append(HomeSpec(
                id=home_id, site="town", resident=f"Resident {i + 1}", address=f"Street {i + 1}",
                devices=[{"type": "call_button", "id": "bedside-button", "port": str(sim.path),
                          "buttons": [100 + i]}]))
        try:
            yield state
        finally:
            if state.hub is not None:
                state.hub.stop()
            for agent in state.agents.values():
                agent.stop()
            for sim in state.buttons.values():
                sim.stop()
