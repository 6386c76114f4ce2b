"""The edge agent SIGKILLed at random moments, again and again, while its devices stream and
its call button is pressed: every event it had accepted (written to its outbox) reaches the
hub, and each is stored once. Real hub and agent processes, real broker and InfluxDB.

Each run of the agent is forked from a launcher that imported the agent once, so a loop costs
the agent's start-up and not Python's: fifty kills fit in well under a minute.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.enrolment import write_secret
from rig.site import EDGE_PASSWORD_FILE, edge_config, write_toml
from rig.stack import _die_with_parent
from tests.faults.api import Api, make_logins, site_db_url
from tests.sitefixture import Site, wait_for

LOOPS = 50
# Forks one agent per "start" line and prints its pid; imports the agent once, up front.
LAUNCHER = """
import logging, os, sys
from pathlib import Path
from edge.agent import main
logging.basicConfig(level=logging.WARNING)
for line in sys.stdin:
    while True:  # reap the runs killed since the last line
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    if line.strip() != "start":
        break
    pid = os.fork()
    if pid == 0:
        os._exit(main(Path(sys.argv[1])))
    print(pid, flush=True)
"""


class Launcher:
    """The launcher process; `start()` forks an agent and returns its pid."""

    def __init__(self, config: Path, log: Path) -> None:
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(config)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=out, preexec_fn=_die_with_parent,
                env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def start(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"start\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def launcher(site: Site) -> Iterator[Launcher]:
    home = site.homes[0]
    credentials = site.mosquitto.home_credentials(home.id)
    write_secret(site.root / home.id / EDGE_PASSWORD_FILE, credentials.password)
    config = write_toml(site.root / home.id / "edge.toml", edge_config(
        home=home, mqtt_port=site.mosquitto.port, workdir=site.root / home.id,
        credentials=credentials))
    runner = Launcher(config, site.root / home.id / "edge.log")
    try:
        yield runner
    finally:
        runner.close()


def _outbox_event_ids(path: Path) -> set[str]:
    """Return the ids of the events in the agent's outbox file (accepted, not yet receipted)."""
    if not path.exists():
        return set()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT payload FROM outbox WHERE topic LIKE '%/events'").fetchall()
    return {json.loads(payload)["id"] for (payload,) in rows}


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it had already exited (a start-up that failed is logged)


@pytest.mark.e2e
def test_an_agent_killed_at_random_moments_loses_and_doubles_no_accepted_event(
        site: Site, launcher: Launcher) -> None:
    """Proves: over 50 SIGKILLs at random moments (0.05–1.4 s into each run, the button
    pressed during the run), every event found in the outbox after a kill is at the hub once
    the agent runs on; the hub holds each event id once and its alert counts each once."""
    home = site.homes[0].id
    outbox = site.root / home / f"{home}-outbox.sqlite"
    site.start_hub()
    api = Api(site.api, make_logins(site_db_url(site))["admin"])
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    accepted: set[str] = set()
    presses = 0
    for _ in range(LOOPS):
        pid = launcher.start()
        time.sleep(rng.uniform(0.05, 0.8))
        site.buttons[home].press()  # read, stored, sent or receipted when the kill comes
        presses += 1
        time.sleep(rng.uniform(0.0, 0.6))
        _kill(pid)
        accepted |= _outbox_event_ids(outbox)

    pid = launcher.start()  # the agent runs on, as it would after the last power cut
    try:
        time.sleep(1.0)
        site.buttons[home].press()
        presses += 1
        assert wait_for(lambda: len(api.get(f"/api/events?home={home}&limit=1000")) >= 1
                        and not _outbox_event_ids(outbox), timeout=120)
        events = api.get(f"/api/events?home={home}&limit=1000")
        alerts = api.get(f"/api/alerts?home={home}&state=all")
    finally:
        os.kill(pid, signal.SIGTERM)
    stored = [e["id"] for e in events]
    calls = [e["id"] for e in events if e["kind"] == "call"]
    grouped = sum(a["event_count"] for a in alerts if a["kind"] == "call")
    stats = api.get("/api/stats")
    print(f"seed={seed} kills={LOOPS} presses={presses} events accepted and seen in the outbox "
          f"after a kill={len(accepted)} events stored={len(stored)} calls={len(calls)} "
          f"lost={len(accepted - set(stored))} stored twice={len(stored) - len(set(stored))} "
          f"re-sent copies the hub ignored={stats.get('duplicates')}")
    assert accepted - set(stored) == set()
    assert len(stored) == len(set(stored))
    assert grouped == len(calls)  # each stored call counted once by its alert
    assert 0 < len(calls) <= presses
