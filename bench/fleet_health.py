"""What the fleet's health costs the hub: on the ingest path, and per request of the desk.

Ingest: `FleetWatch.observe` runs for every message the hub accepts. Timed per message on a
SQLite store in a temporary folder, against the baseline of the same run: formatting the same
reading batch as InfluxDB lines (`reading_lines`), work the hub does for every batch anyway.
Rows: a reading batch and an agent status (`observe` only gathers in memory), then the writes
that `FleetWatch.run` makes beside the loop, in a thread: one change of state, and the
periodic write of what was gathered for `--homes` homes.

The desk: `read_health` for `--homes` homes with two devices each, as `/api/fleet/health`
asks it (every visible home is read, then sorted and paged).

    python bench/fleet_health.py [--homes N] [--batch N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import true

from bedwatch import wire
from hub.db import Home, Site, make_engine, make_sessionmaker
from hub.fleet import FleetWatch
from hub.fleet_view import read_health
from hub.lineprotocol import reading_lines

T0 = 1_764_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> float:
        return self.t


def per_call(fn: Callable[[int], object], n: int, rounds: int = 5) -> float:
    """Return the median over `rounds` of the seconds one call of `fn(i)` takes."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        times.append((time.perf_counter() - start) / n)
    return statistics.median(times)


def batch(home: str, size: int) -> wire.ReadingBatch:
    return wire.ReadingBatch(agent=home, seq=1, readings=[
        wire.Reading(device=("bed", "button")[i % 2], kind="vitals", t=T0 + i / 10,
                     fields={"hr": 60 + i % 20, "rr": 14.5, "battery_pct": 90})
        for i in range(size)])


def run(homes: int, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bedwatch-fleet-bench-") as folder:
        return _run(Path(folder), homes, size)


def _run(folder: Path, homes: int, size: int) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{folder / 'hub.sqlite'}")
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        session.add(Site(id="town", name="Town", kind="urban", timezone="Asia/Shanghai",
                         ack_target_s=900, arrival_target_s=1800))
        session.add_all(Home(id=f"home-{i:05d}", site_id="town", resident_name=f"R{i}")
                        for i in range(homes))
        session.commit()
    clock = Clock()
    watch = FleetWatch(sessions, clock)  # writes only when told: no loop runs here
    ids = [f"home-{i:05d}" for i in range(homes)]
    online = {h: wire.AgentStatus(agent=h, state="online", t=T0, version="0.3.0",
                                  outbox_depth=0, devices=["bed", "button"]) for h in ids}
    offline = {h: wire.AgentStatus(agent=h, state="offline") for h in ids}
    for home in ids:  # every home known, its devices and state written once
        watch.observe(home, online[home])
    watch.flush()
    batches = {h: batch(h, size) for h in ids[:50]}

    figures: dict[str, float] = {}
    figures["baseline: reading_lines"] = per_call(
        lambda i: reading_lines(ids[i % 50], batches[ids[i % 50]].readings), 2000)
    figures["observe: reading batch"] = per_call(
        lambda i: watch.observe(ids[i % 50], batches[ids[i % 50]]), 2000)
    figures["observe: agent status"] = per_call(
        lambda i: watch.observe(ids[i % homes], online[ids[i % homes]]), 2000)
    flip = [offline, online]

    def one_change(i: int) -> None:
        home = ids[i % homes]
        watch.observe(home, flip[(i // homes) % 2][home])
        watch.flush()

    figures["flush: one change of state"] = per_call(one_change, min(homes, 200), rounds=2)
    for home in ids:  # every home heard from: a status and a batch each
        watch.observe(home, online[home])
        watch.observe(home, batch(home, 2))
    start = time.perf_counter()
    watch.flush()
    figures[f"flush: gathered of {homes} homes"] = time.perf_counter() - start
    with sessions() as session:
        figures[f"read_health: {homes} homes"] = per_call(
            lambda i: read_health(session, true(), clock.now()), 1, rounds=3)
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=2000, help="Homes in the registry.")
    parser.add_argument("--batch", type=int, default=20, help="Readings per batch.")
    parser.add_argument("--json", type=Path, help="Write the figures to this file.")
    args = parser.parse_args()
    figures = run(args.homes, args.batch)
    base = figures["baseline: reading_lines"]
    table = Table(title=f"fleet health: {args.homes} homes, batches of {args.batch} readings")
    table.add_column("what")
    table.add_column("time", justify="right")
    table.add_column("× baseline", justify="right")
    for name, seconds in figures.items():
        shown = f"{seconds * 1e6:,.1f} µs" if seconds < 0.01 else f"{seconds * 1e3:,.1f} ms"
        table.add_row(name, shown, f"{seconds / base:,.2f}")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps({"homes": args.homes, "batch": args.batch,
                                         "seconds": figures}, indent=2))


if __name__ == "__main__":
    main()
