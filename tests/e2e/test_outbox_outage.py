"""With the broker down the agent keeps every press; afterwards each arrives once, in order."""

from __future__ import annotations

import sqlite3
import time

from tests.sitefixture import Site
from tests.sitefixture import wait_for as _wait


def _outbox_events(site: Site, home: str) -> int:
    path = site.root / home / f"{home}-outbox.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (n,) = db.execute("SELECT count(*) FROM outbox WHERE topic LIKE '%/events'").fetchone()
    return int(n)


def test_presses_during_a_broker_outage_arrive_exactly_once_in_order(site: Site) -> None:
    home = site.homes[0].id
    site.start_hub()
    site.start_agent(site.homes[0])
    assert _wait(lambda: site.get("/api/homes")[0]["agent"] == "online")
    button = site.buttons[home]
    button.press()
    assert _wait(lambda: len(site.get(f"/api/events?home={home}")) == 1)

    site.mosquitto.stop()
    for _ in range(20):
        button.press()
        time.sleep(0.05)
    # The agent accepted every press while the broker was away: they wait in its outbox.
    assert _wait(lambda: _outbox_events(site, home) >= 20), _outbox_events(site, home)
    assert site.get(f"/api/events?home={home}")[-1]["kind"] == "call"
    assert len(site.get(f"/api/events?home={home}")) == 1

    site.mosquitto.start()
    events = _wait(lambda: [e for e in site.get(f"/api/events?home={home}")
                            if e["kind"] == "call"][20:] and
                   [e for e in site.get(f"/api/events?home={home}") if e["kind"] == "call"],
                   timeout=60)
    calls = [e for e in events if e["kind"] == "call"]
    assert len(calls) == 21
    assert len({e["id"] for e in calls}) == 21  # exactly once
    seqs = [e["seq"] for e in calls]
    assert seqs == sorted(seqs)  # in order
    time.sleep(1.0)  # nothing more trickles in: no duplicates later either
    assert len([e for e in site.get(f"/api/events?home={home}") if e["kind"] == "call"]) == 21
    # The agent forgets an event only when the hub's receipt names it, not on the PUBACK.
    _wait(lambda: _outbox_events(site, home) == 0)
    left = _outbox_events(site, home)
    print(f"pressed 21, stored at the hub {len(calls)}, left in the outbox {left}")
    assert left == 0
    # One open call alert collected all 21 presses; the caregiver was paged once.
    [alert] = [a for a in site.get("/api/alerts?state=open") if a["kind"] == "call"]
    assert alert["event_count"] == 21
    assert len(site.sink.wait_for(lambda n: "Call button pressed" in n.text, timeout=1,
                                  count=2)) == 1
