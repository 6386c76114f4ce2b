"""How fast the hub drains a backlog of readings into InfluxDB, and whether it loses any.

A hub for 10,000 homes. The drain, against a real Mosquitto (persistence on, the
rig's settings) and a real InfluxDB 1.x: the hub runs (`bedwatch hub run`) until it has stored
a probe reading and every readings lane is subscribed, so that its persistent sessions exist;
it is killed (SIGKILL) so that the broker queues for it; the homes publish the backlog (reading
batches of 10, QoS 1, the wire contract's own encoder, each home as its own broker user, from
several processes); the hub is started again and the readings in InfluxDB are counted
(`SELECT count(...)`) until all are there or the count has not grown for a minute. The rate is
taken from the first reading seen in InfluxDB to the last; lost = published - counted.
(InfluxDB keeps one point per series and time, so a reading written twice is counted once:
duplicates are not countable here.) The hub is drained twice: with one process, and with
`--workers` ingest workers sharing the readings (`mqtt.ingest_workers`).

Two baselines, measured in the same run:

- InfluxDB alone: the same readings as line protocol made the way the hub makes it, written
  straight to `/write` in 5,000-line batches by 4 concurrent HTTP clients, 3 times (median):
  the ceiling of anything that stores into this InfluxDB.
- Node-RED 4 with a join node (`node-red@4` and `node-red-contrib-influxdb` from npm, cached
  in ~/.cache/bedwatch-bench/node-red): mqtt in (persistent session, QoS 1, as a bench-only
  broker user with the hub's role) → function (batch → points) → join (500 messages = 5,000
  points, or 0.5 s) → function (flatten) → influxdb batch, drained the same way (kill,
  publish, restart, count). Skipped, with the reason printed, when npm or the install is not
  available. Node-RED acknowledges a message on receipt, not once stored.

Target: ≥ 150,000 readings/s, ≥ 1.6× Node-RED, 0 lost. Lost readings fail the run (exit 1);
a rate below target is reported, not failed. The machine's load average is printed before
each measurement: on a shared machine it moves the figures.

    python bench/ingest.py [--readings N] [--homes N] [--workers N] [--skip-node-red]
                           [--json PATH] [--profile PATH] [--broker-autosave CHANGES]

`--profile` records the one-process hub's drain with py-spy (if installed) and prints its
hottest functions; `--broker-autosave` makes Mosquitto save every that many changes instead of
the rig's every 30 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingestlib.data import (
    ALONE_RUNS,
    BATCH,
    LINES_PER_WRITE,
    POLL_S,
    TARGET_RATE,
    TARGET_VS_NODE_RED,
    WRITERS,
    home_ids,
    influx_alone,
    share,
)
from ingestlib.drains import Drain, hub_drain
from ingestlib.mqttload import enrol_homes, queue_limit
from ingestlib.nodered import node_red_drain
from rich.console import Console
from rich.table import Table

import hub as hub_package
from rig.stack import InfluxDB, Mosquitto, StackError


def source_digest(folder: Path) -> str:
    """Return a short digest of the Python sources under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def load() -> float:
    return round(os.getloadavg()[0], 2)


def report(console: Console, figures: dict[str, Any], drains: list[tuple[str, Drain]],
           alone: dict[str, Any], red: Drain | None, broker: Mosquitto) -> None:
    """Print the tables: rates with ratios, then what each drain cost."""
    ceiling = alone["rate"]
    base = red.rate if red else None
    table = Table(title=f"Backlog drain into InfluxDB: {figures['readings']:,} readings from "
                        f"{figures['homes']} homes ({os.cpu_count()} cores)")
    for column in ("path", "load", "counted", "lost", "s", "readings/s", "× Node-RED",
                   "× InfluxDB"):
        table.add_column(column, justify="left" if column == "path" else "right")

    def cells(rate: float | None) -> list[str]:
        return [f"{rate:,.0f}" if rate else "-",
                *(f"{r:.2f}" if (r := ratio(rate, b)) else "-" for b in (base, ceiling))]

    for name, one in drains:
        table.add_row(name, f"{one.extra.get('load_average', 0):.1f}", f"{one.counted:,}",
                      f"{one.lost:,}",
                      f"{one.first_to_last_s:.2f}" if one.first_to_last_s else "-",
                      *cells(one.rate))
    table.add_row("InfluxDB alone", f"{alone['load_average']:.1f}", f"{alone['counted']:,}",
                  f"{alone['lost']:,}", f"{alone['seconds']:.2f}", *cells(ceiling))
    console.print(table)
    console.print(f"load: the 1-minute load average before the measurement; s: from the first "
                  f"reading seen in InfluxDB to the last (polled every {POLL_S} s); InfluxDB "
                  f"alone: {WRITERS} clients, {LINES_PER_WRITE}-line writes, the hub's line "
                  f"protocol, median of {ALONE_RUNS} runs "
                  f"({', '.join(f'{r:,}' for r in alone['runs'])} readings/s)")
    details = Table(title="During each drain (CPU s: user + system)")
    for column in ("path", "→first s", "→last s", "CPU s", "drain CPU s", "µs CPU/reading",
                   "RSS MB", "broker CPU s", "broker MB written", "influxd CPU s"):
        details.add_column(column, justify="left" if column == "path" else "right")
    for name, one in drains:
        per = one.drain_cpu_s / one.counted_after_first * 1e6 if one.counted_after_first else 0
        details.add_row(name, *(f"{v:.1f}" if v is not None else "-" for v in (
            one.restart_to_first_s, one.restart_to_last_s)), f"{one.cpu_s:.1f}",
            f"{one.drain_cpu_s:.1f}", f"{per:.1f}", f"{one.peak_rss_mb:.0f}",
            f"{one.broker_cpu_s:.1f}", f"{one.broker_written_mb:,.0f}",
            f"{one.influxdb_cpu_s:.1f}")
    console.print(details)
    console.print("→first, →last: from the restart; CPU s: the consumer's process tree from "
                  "the restart, drain CPU s: from the first reading to the last; RSS: peak "
                  "(summed over the tree)")
    saves = (f"every {broker.autosave_changes} changes" if broker.autosave_changes else
             f"every {broker.autosave_s} s")
    for name, one in drains:
        console.print(f"{name}: backlog of {one.published_messages:,} messages published "
                      f"(acked by the broker) in {one.publish_s:.1f} s; the broker wrote "
                      f"{one.publish_broker_written_mb:,.0f} MB meanwhile (autosave {saves})")
    for name, one in drains:
        spy = one.extra.get("profile")
        if spy is None:
            continue
        if "error" in spy:
            console.print(f"{name} profile: not recorded ({spy['error']})")
            continue
        console.print(f"{name} profile ({spy['samples']:,} samples in {spy['file']}), "
                      "hottest functions by own samples:")
        for row in spy["own"]:
            console.print(f"  {row['share']:6.1%}  {row['function']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=100_000,
                        help="readings in the backlog (the issue's figure: 600000)")
    parser.add_argument("--homes", type=int, default=200, help="homes publishing it")
    parser.add_argument("--workers", type=int, default=2,
                        help="ingest workers of the second hub drain (1: one drain only)")
    parser.add_argument("--skip-node-red", action="store_true", help="no Node-RED baseline")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--profile", type=Path,
                        help="record the one-process hub's drain with py-spy into this file "
                             "(raw stacks) and print its hottest functions")
    parser.add_argument("--broker-autosave", type=int, metavar="CHANGES",
                        help="Mosquitto saves its store every that many changes (default: "
                             "the rig's, every 30 s)")
    args = parser.parse_args()
    if args.readings < BATCH * args.homes:
        parser.error(f"--readings must be at least {BATCH} per home")
    shares = dict(zip(home_ids(args.homes), share(args.readings, args.homes), strict=True))
    readings = sum(shares.values())
    console = Console(width=max(Console().width, 150))
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        # hub/ changes under this bench: the digest ties the figures to the code measured.
        "hub_source_sha256": source_digest(Path(hub_package.__file__).parent),
        "readings": readings, "homes": args.homes, "readings_per_message": BATCH,
        "messages": readings // BATCH,
    }
    root = Path(tempfile.mkdtemp(prefix="bedwatch-bench-ingest-"))
    broker = (Mosquitto(root / "mosquitto") if args.broker_autosave is None else
              Mosquitto(root / "mosquitto", autosave_changes=args.broker_autosave)).start()
    influx = InfluxDB(root / "influxdb")
    drains: list[tuple[str, Drain]] = []
    red: Drain | None = None
    try:
        influx.start()
        limit = queue_limit(broker)
        figures["broker"] = {"max_queued_messages": limit,
                             "autosave_interval_changes": broker.autosave_changes,
                             "autosave_interval_s": None if broker.autosave_changes
                             else broker.autosave_s}
        if readings // BATCH > (limit or 1000):
            raise SystemExit(f"the backlog ({readings // BATCH} messages) exceeds the broker's "
                             f"max_queued_messages ({limit}): the broker would drop messages")
        homes = enrol_homes(broker, args.homes)
        console.print(f"{readings:,} readings from {args.homes} homes "
                      f"({readings // BATCH:,} messages); servers in {root}; load average "
                      f"{load():.1f}; hub/ sources {figures['hub_source_sha256']}")

        console.print(f"InfluxDB alone … (load {load():.1f})")
        alone = {**influx_alone(influx, "bench_direct", shares), "load_average": load()}
        figures["influxdb_alone"] = alone

        for workers in sorted({1, args.workers}):
            name = "hub, 1 process" if workers == 1 else f"hub, {workers} ingest workers"
            at_load = load()
            console.print(f"{name}: drain … (load {at_load:.1f})")
            one = hub_drain(root, broker, influx, homes, shares,
                            args.profile if workers == 1 else None, workers=workers)
            one.extra["load_average"] = at_load
            one.extra["workers"] = workers
            drains.append((name, one))
            figures.setdefault("hub", {})[f"{workers}_workers"] = one.figures()

        if args.skip_node_red:
            figures["node_red"] = {"skipped": "--skip-node-red"}
        else:
            at_load = load()
            console.print(f"Node-RED drain … (load {at_load:.1f})")
            try:
                red = node_red_drain(root, broker, influx, homes, shares)
                red.extra["load_average"] = at_load
                drains.append(("Node-RED+join", red))
                figures["node_red"] = red.figures()
            except (RuntimeError, OSError, TimeoutError, subprocess.SubprocessError,
                    StackError) as exc:
                figures["node_red"] = {"skipped": str(exc)}
                console.print(f"[yellow]Node-RED skipped: {exc}[/yellow]")
    finally:
        influx.stop()
        broker.stop()

    report(console, figures, drains, alone, red, broker)
    hubs = [one for name, one in drains if name.startswith("hub")]
    best = max(hubs, key=lambda one: one.rate or 0)
    ceiling = alone["rate"]
    vs_red = ratio(best.rate, red.rate if red else None)
    lost = sum(one.lost for one in hubs)
    met = {"rate": (best.rate or 0) >= TARGET_RATE,
           "vs_node_red": None if vs_red is None else vs_red >= TARGET_VS_NODE_RED,
           "lost": lost == 0}
    figures["target"] = {"rate": TARGET_RATE, "vs_node_red": TARGET_VS_NODE_RED, "lost": 0,
                         "best_hub_workers": best.extra["workers"], "best_hub_rate": best.rate,
                         "hub_vs_node_red": vs_red,
                         "hub_vs_influxdb_alone": ratio(best.rate, ceiling),
                         "met": met, "all_met": all(v is True for v in met.values())}
    mark = {True: "met", False: "NOT met", None: "not measured"}
    console.print(f"target (best hub drain, {best.extra['workers']} worker(s)): ≥ "
                  f"{TARGET_RATE:,.0f} readings/s ({mark[met['rate']]}: {best.rate or 0:,.0f}), "
                  f"≥ {TARGET_VS_NODE_RED}× Node-RED ({mark[met['vs_node_red']]}: "
                  f"{f'{vs_red:.2f}×' if vs_red else '-'}), 0 lost ({mark[met['lost']]}: {lost})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if lost or (red is not None and red.lost):
        console.print(f"readings were lost: logs and data kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    # Lost readings fail `make bench`; a rate below target is a figure, not a failure.
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
