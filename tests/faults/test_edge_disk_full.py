"""A full disk under the outbox never costs a call: presses go out from memory, the driver
lives on, the fault is reported once, and what memory held is written back afterwards.

The disk is a real 1 MiB tmpfs filled to the last byte (ENOSPC, so SQLite says SQLITE_FULL);
the button is the real receiver driver on a pseudo-terminal; the broker is a real Mosquitto.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent import Agent, main
from edge.config import AgentConfig
from firmware_sim.call_button import CallButtonSim
from rig.stack import Mosquitto
from tests.edge.minihub import MiniHub, home_mqtt_doc, until

HOME = "home-1"


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the filesystem has no byte left."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def _calls_on_disk(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [r[0] for r in db.execute(
            "SELECT event_id FROM outbox WHERE CAST(payload AS TEXT) LIKE '%\"kind\":\"call\"%'")]


async def test_presses_on_a_full_disk_are_published_and_written_back_later(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    sim = CallButtonSim(tmp_path / "devices", heartbeat_s=0.5, buttons=[100]).start()
    with _tmpfs(tmp_path / "state", "1m") as state:
        config = AgentConfig.model_validate({
            "home": HOME, "mqtt": home_mqtt_doc(mosquitto, HOME),
            "outbox": {"path": str(state / "outbox.sqlite"), "receipt_timeout_s": 3600},
            "status_interval_s": 3600, "restart_min_s": 0.05,
            "devices": [{"type": "call_button", "id": "btn", "port": str(sim.path),
                         "buttons": [100]}]})
        agent = Agent(config)
        stop = asyncio.Event()
        try:
            async with MiniHub(mosquitto, HOME, answer=False) as hub:
                run = asyncio.create_task(agent.run(stop))
                assert await until(lambda: agent.publisher.connected and
                                   agent.counters["readings"] > 0)
                filler = _fill(state)
                for _ in range(8):
                    sim.press()
                    await asyncio.sleep(0.05)
                during = await until(lambda: len(hub.kinds("call")) == 8 and hub.kinds("call"))
                degraded = hub.kinds("agent_degraded")
                print(f"pressed 8 on a full disk, published {len(during)}, held in memory "
                      f"{agent.outbox.memory_rows()}, degraded events {len(degraded)}")
                assert len(during) == 8
                assert len(degraded) == 1 and "full" in degraded[0]["data"]["error"]
                assert degraded[0]["severity"] == "critical"
                assert await until(lambda: any("outbox_disk" in s.get("degraded", [])
                                               for s in hub.statuses))
                assert agent.restarters["driver:btn"].running
                assert agent.restarters["driver:btn"].restarts == 0

                filler.unlink()  # space comes back
                agent.tick()
                assert agent.outbox.error is None and agent.outbox.memory_rows() == 0
                on_disk = _calls_on_disk(state / "outbox.sqlite")
                assert sorted(on_disk) == sorted(e["id"] for e in during)  # once each
                assert await until(lambda: hub.kinds("agent_recovered"))

                for _ in range(8):
                    sim.press()
                    await asyncio.sleep(0.05)
                calls = await until(lambda: len(hub.kinds("call")) == 16 and hub.kinds("call"))
                hub.answer = True
                await hub.receipt([e["id"] for e in hub.copies])
                assert await until(lambda: agent.outbox.depth() == 0)
                duplicated = len([e for e in hub.copies if e["kind"] == "call"]) - len(calls)
                print(f"pressed 16, published {len(calls)}, lost {16 - len(calls)}, "
                      f"duplicated {duplicated}, disk failures {agent.outbox.disk_failures}, "
                      f"driver restarts {agent.restarters['driver:btn'].restarts}, "
                      f"outbox depth {agent.outbox.depth()}")
                assert len(calls) == 16
                assert len(hub.kinds("agent_degraded")) == 1
                assert agent.restarters["driver:btn"].running
                stop.set()
                await asyncio.wait_for(run, 15)
        finally:
            stop.set()
            sim.stop()


@pytest.mark.parametrize("case", ["missing", "read_only"])
def test_a_state_folder_that_cannot_be_written_stops_the_agent_naming_it(
        tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture) -> None:
    with contextlib.ExitStack() as stack:
        if case == "missing":
            state = tmp_path / "not-mounted"
        else:
            state = stack.enter_context(_tmpfs(tmp_path / "state", "64k"))
            (state / "outbox.sqlite").write_bytes(b"")
            if os.geteuid() == 0:
                subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
            else:
                state.chmod(0o555)
        path = tmp_path / "home.toml"
        path.write_text(f'home = "{HOME}"\n[outbox]\npath = "{state / "outbox.sqlite"}"\n')
        with caplog.at_level(logging.ERROR):
            code = main(path)
    print(f"{case}: exit code {code}; {caplog.text.strip()}")
    assert code == 2
    assert str(state) in caplog.text and str(path) in caplog.text
