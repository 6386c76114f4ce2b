"""A PUBACK is not a delivery: calls the broker had acknowledged, then lost in a crash before
it saved, still reach the hub, because the agent keeps each event until the hub's receipt."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.stack import Mosquitto
from tests.sitefixture import Site
from tests.sitefixture import wait_for as _wait


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker that saves its store only after 100,000 changes: a crash loses all it holds."""
    broker = Mosquitto(tmp_path / "mosquitto", autosave_changes=100_000)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _outbox_events(site: Site, home: str) -> int:
    path = site.root / home / f"{home}-outbox.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (n,) = db.execute("SELECT count(*) FROM outbox WHERE topic LIKE '%/events'").fetchone()
    return int(n)


def _calls(site: Site, home: str) -> list[dict]:
    return [e for e in site.get(f"/api/events?home={home}&limit=500") if e["kind"] == "call"]


def test_calls_lost_by_a_crashed_broker_are_sent_again_until_the_hub_has_them(
        site: Site) -> None:
    """Proves: events the broker acknowledged and then lost in a crash are still delivered."""
    home = site.homes[0].id
    site.start_hub()
    agent = site.start_agent(site.homes[0])
    assert _wait(lambda: site.get("/api/homes")[0]["agent"] == "online")
    assert site.hub is not None
    site.hub.stop()  # the hub is away: the broker queues for its session, in memory only

    presses = 10
    for _ in range(presses):
        site.buttons[home].press()
        time.sleep(0.05)
    # Published and acknowledged by the broker, yet kept: no receipt has come.
    assert _wait(lambda: _outbox_events(site, home) >= presses, timeout=20), agent.log_tail()
    time.sleep(0.5)
    assert _outbox_events(site, home) >= presses

    site.mosquitto.kill()  # before it saved anything
    site.mosquitto.start()
    site.start_hub()
    calls = _wait(lambda: (c := _calls(site, home)) and len(c) >= presses and c, timeout=60)
    assert _wait(lambda: _outbox_events(site, home) == 0, timeout=30), agent.log_tail()
    calls = _calls(site, home)
    ids = {c["id"] for c in calls}
    print(f"calls sent={presses} stored={len(calls)} distinct={len(ids)} "
          f"lost={presses - len(ids)} duplicated={len(calls) - len(ids)} "
          f"left in outbox={_outbox_events(site, home)}")
    assert len(ids) == presses
    assert len(calls) == presses
    assert site.sink.wait_for(lambda n: "home-001" in n.text, timeout=10)
