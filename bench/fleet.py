"""A fleet of homes against one hub: does ingest keep up, and how fast is a call paged meanwhile?

A hub for 10,000 homes. Against a real Mosquitto (the rig's settings), a real
InfluxDB and the hub as `bedwatch hub run` (optionally with `--workers` ingest workers), with
every home in the hub's registry (imported as `bedwatch hub import-registry` does):

1. idle: a probe home presses its call button `--calls` times (an `Event` of kind `call`, QoS 1,
   as its agent would publish it); each press is timed from the publish to the page arriving at
   a local apprise `json://` sink, and the alert is resolved through the API before the next;
2. under load: the load generator speaks the wire contract for `--homes` homes for
   `--duration` seconds: each home a reading batch a second (`--readings` readings), events at
   `--event-rate` per home per second (kinds that open no alert: back in bed, mat pressed and
   released), and a share of homes (`--flapping`) going offline and online again every 30 s
   through their retained status; the probe presses its button meanwhile.

Reported: messages published and taken by the hub, the backlog (published minus taken) over
time and its growth in the second half of the load, the hub's CPU (process tree, user +
system, as a share of one core) and peak RSS, call → page p50/p99 idle and under load. Targets:
no backlog growth, p99 < 250 ms under load, < 25 ms idle.

Where a call's time goes is read back from the hub's own rows after the run: publish → stored
(`events.received_at`: the broker and the hub's control lane) and stored → delivered (the
first successful `deliveries.at`: alert engine, pager, apprise, the sink's answer); and the
hub's event-loop lag (`/api/stats` `loop_lag_ms`) is sampled through the load. `--profile`
records the hub process with py-spy meanwhile, waiting stacks included.

The load generator (`ingestlib/fleetgen.py`) writes pre-built MQTT packets over a few plain
connections per process, ten slices a second; a paho publisher got only 2,000–3,000
messages a second acknowledged, a third of 10,000 homes' traffic.

Broker identities: the probe home is enrolled as any home is (its own dynamic-security user).
The fleet is published by load-generator users (`--generators` × `--connections`), each with
a role that may publish on every home's topics (as the rig's test publisher), not by 10,000
users: creating those costs 10,000 admin commands before the run and changes nothing the hub
or the broker's per-message ACL check does. The broker's own cost of 10,000 connections is
therefore not measured here.

    python bench/fleet.py [--homes N] [--duration S] [--workers N] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from ingestlib.drains import start_hub
from ingestlib.fleetgen import generate
from ingestlib.procs import PySpy, Usage, peak_rss_mb
from rich.console import Console
from rich.table import Table

from bedwatch import wire
from hub.broker import BrokerCredentials, acl, new_password
from hub.looplag import percentile
from rig.site import HomeSpec, LocalSite, wait_http
from rig.stack import InfluxDB, Mosquitto

PROBE = "fleet-probe"
LOAD_ROLE = "bench-fleet-load"
SAMPLE_S = 2.0
TARGET_LOAD_P99_MS = 250.0
TARGET_IDLE_P99_MS = 25.0


def home_ids(homes: int) -> list[str]:
    return [f"fleet-{i:05d}" for i in range(homes)]


def load_users(broker: Mosquitto, count: int) -> list[BrokerCredentials]:
    """Create the load generators' broker users (publish on any home's upstream topics)."""
    users = [BrokerCredentials(f"bench-fleet-{i}", new_password(), f"bench-fleet-{i}")
             for i in range(count)]
    with broker.admin_session() as admin:
        admin.set_role(LOAD_ROLE, [acl("publishClientSend", f"{wire.TOPIC_ROOT}/#")])
        for user in users:
            admin.set_client(user, LOAD_ROLE, textname="bench only: fleet load generator")
    return users


def _connect(port: int, credentials: BrokerCredentials) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=credentials.client_id,
                         protocol=mqtt.MQTTv311)
    client.username_pw_set(credentials.username, credentials.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    return client


class Probe:
    """The probe home: presses its call button and times each page at the sink."""

    def __init__(self, site: LocalSite) -> None:
        self.site = site
        self.credentials = site.mosquitto.home_credentials(PROBE)
        self.client = _connect(site.mosquitto.port, self.credentials)
        self.seq = 0
        self.lost = 0

    def press(self, timeout_s: float = 10.0) -> float | None:
        """Press once; return the ms to the page (None: no page within `timeout_s`)."""
        sink = self.site.sink
        before = len([n for n in sink.notifications if PROBE in n.text])
        self.seq += 1
        event = wire.Event(id=uuid.uuid4().hex, seq=self.seq, t=time.time(), device="button",
                           kind="call", severity=wire.DEFAULT_SEVERITY["call"])
        start = time.monotonic()
        self.client.publish(wire.events_topic(PROBE), wire.encode(event), qos=1)
        got = sink.wait_for(lambda n: PROBE in n.text, timeout=timeout_s, count=before + 1)
        # Resolved, so that the next press opens (and pages) a new alert.
        for _ in range(3):
            try:
                for alert in self.site.get(f"/api/alerts?state=active&home={PROBE}"):
                    if alert.get("home") == PROBE:
                        self.site.post(f"/api/alerts/{alert['id']}/resolve",
                                       {"caregiver": self.site.caregivers[0].id,
                                        "resolution": "test", "note": "fleet bench"})
                break
            except (OSError, TimeoutError, ValueError):
                time.sleep(1.0)  # the API did not answer in time under load: again
        if len(got) <= before:
            self.lost += 1
            return None
        return (got[before].received_monotonic - start) * 1000

    def presses(self, count: int, gap_s: float, until: float | None = None) -> list[float]:
        samples: list[float] = []
        for _ in range(count):
            if until is not None and time.monotonic() > until:
                break
            one = self.press()
            if one is not None:
                samples.append(one)
            time.sleep(gap_s)
        return samples

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def stages(database: Path, since: float) -> list[dict[str, float]]:
    """Return, per probe press published after `since` (wall clock), where its time went:
    publish → the hub's control lane stored it (`received_ms`: the broker and the hub's loop),
    and stored → the first successful delivery returned (`paged_ms`: the alert engine, the
    pager's tick and claim, the text, apprise and the sink's HTTP answer). From the hub's own
    rows (events.received_at, deliveries.at), read after the run."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT e.t, e.received_at, MIN(d.at) FROM events e "
            "JOIN deliveries d ON d.alert_id = e.alert_id AND d.ok "
            "WHERE e.home = ? AND e.kind = 'call' AND e.t >= ? "
            "GROUP BY e.home, e.id ORDER BY e.t", (PROBE, since)).fetchall()
    return [{"t": t, "received_ms": (received - t) * 1000, "paged_ms": (at - received) * 1000}
            for t, received, at in rows]


def _stage_summary(rows: list[dict[str, float]]) -> dict[str, Any]:
    return {key: {"p50": round(statistics.median(values), 1),
                  "p99": round(percentile(values, 99), 1), "max": round(max(values), 1)}
            for key in ("received_ms", "paged_ms")
            if (values := [row[key] for row in rows])}


def stats(site: LocalSite) -> dict[str, Any] | None:
    """Return the hub's /api/stats, or None when it does not answer in time (counted)."""
    try:
        return dict(site.get("/api/stats"))
    except (OSError, TimeoutError, ValueError):
        return None


def taken(now: dict[str, Any], before: dict[str, Any], key: str = "received") -> int:
    """Return how many messages the hub took between two stats (all lanes by default)."""
    return int(now["ingest"].get(key, 0) - before["ingest"].get(key, 0))


def run(args: argparse.Namespace, root: Path, console: Console) -> dict[str, Any]:
    broker = Mosquitto(root / "mosquitto").start()
    influx = InfluxDB(root / "influxdb").start()
    try:
        with LocalSite(root / "site", mosquitto=broker, influxdb=influx,
                       database="bench_fleet") as site:
            homes = home_ids(args.homes)
            site.homes.extend(HomeSpec(id=h, site="town", resident=f"Resident {h}",
                                       address="Bench") for h in [PROBE, *homes])
            started = time.monotonic()
            hub = start_hub(site, args.workers, import_timeout_s=3600)
            wait_http(f"{site.api}/healthz", timeout_s=300, program=hub)
            setup_s = time.monotonic() - started
            assert hub.process is not None
            pid = hub.process.pid
            console.print(f"hub up with {args.homes + 1:,} homes in its registry after "
                          f"{setup_s:.1f} s (load {os.getloadavg()[0]:.1f})")
            probe = Probe(site)
            probe.presses(3, 0.1)  # warm-up: the first page opens connections
            idle_from = time.time()
            idle = probe.presses(args.calls, 0.2)
            load_from = time.time()
            console.print(f"idle: {len(idle)} calls paged (load {os.getloadavg()[0]:.1f})")

            users = load_users(broker, args.generators * args.connections)
            manager = multiprocessing.get_context("fork").Manager()
            deadline = time.monotonic() + args.duration
            options = {"readings": args.readings, "event_rate": args.event_rate,
                       "flapping": args.flapping, "deadline": deadline}
            counters = [manager.dict(readings=0, events=0, statuses=0, acked=0, late_ticks=0)
                        for _ in range(args.generators)]
            jobs = [(broker.port, users[i::args.generators], homes[i::args.generators], options)
                    for i in range(args.generators)]
            before = stats(site) or {"ingest": {}}
            unanswered = 0
            usage0, t0, load0 = Usage.of(pid), time.monotonic(), os.getloadavg()[0]
            generators = [multiprocessing.get_context("fork").Process(
                target=generate, args=(job, counts)) for job, counts in zip(jobs, counters,
                                                                            strict=True)]
            for one in generators:
                one.start()
            spy = PySpy(pid, args.profile, idle=True) if args.profile else None
            samples: list[dict[str, float]] = []
            loaded: list[float] = []

            def sampler() -> None:
                nonlocal unanswered
                while time.monotonic() < deadline:
                    time.sleep(SAMPLE_S)
                    now = stats(site)
                    if now is None:
                        unanswered += 1
                        continue
                    # The broker's share of the backlog: what it acknowledged to the
                    # generators and the hub has not taken (messages of every kind).
                    sent = sum(c["acked"] for c in counters)
                    got = taken(now, before)
                    samples.append({"t": round(time.monotonic() - t0, 1), "acked": sent,
                                    "taken": got, "backlog": sent - got,
                                    "loop_lag_p99_ms": now.get("loop_lag_ms", {}).get("p99_ms"),
                                    "unsent": sum(c["readings"] + c["events"] + c["statuses"]
                                                  for c in counters) - sent})

            watcher = threading.Thread(target=sampler, daemon=True)
            watcher.start()
            time.sleep(min(5.0, args.duration / 4))  # let the load settle
            lost_idle = probe.lost
            loaded = probe.presses(args.calls, 0.5, until=deadline - 1)
            lost_loaded = probe.lost - lost_idle  # presses not paged within 10 s
            watcher.join(args.duration + 30)
            for one in generators:
                one.join(60)
            profile = spy.stop(top=25) if spy is not None else None
            usage1, t1 = Usage.of(pid), time.monotonic()
            probe.close()
            # What was still queued when the load stopped: how long the hub takes to catch up.
            total = sum(c["acked"] for c in counters)
            after: dict[str, Any] | None = None
            while time.monotonic() - t1 < 120:
                after = stats(site) or after
                if after is not None and taken(after, before) >= total:
                    break
                time.sleep(0.5)
            after = after or {"ingest": {}}
            tail_s = time.monotonic() - t1
            rss = peak_rss_mb(pid)
            sent = {key: sum(c[key] for c in counters)
                    for key in ("readings", "events", "statuses", "acked", "late_ticks")}
            stored = stages(site.root / "hub" / "hub.sqlite", idle_from)
    finally:
        influx.stop()
        broker.stop()

    half = [s for s in samples if s["t"] >= args.duration / 2]
    growth = half[-1]["backlog"] - half[0]["backlog"] if len(half) >= 2 else None
    per_s = args.homes  # reading batches a second when all homes are online
    return {
        "homes": args.homes, "duration_s": args.duration, "workers": args.workers,
        "readings_per_batch": args.readings, "event_rate_per_home_s": args.event_rate,
        "flapping_share": args.flapping, "setup_s": round(setup_s, 1),
        "load_average_before_load": load0, "load_average_after": os.getloadavg()[0],
        "published": sent,
        "hub_taken_messages": taken(after, before),
        "hub_taken_readings_messages": taken(after, before, "readings_received"),
        "stats_unanswered": unanswered,
        "hub_rejected": after.get("rejected", {}),
        "backlog_samples": samples,
        "catch_up_after_load_s": round(tail_s, 2),
        "backlog_growth_second_half": growth,
        "backlog_grows": None if growth is None else growth > per_s * SAMPLE_S,
        "hub_cpu_s": round(usage1.cpu_s - usage0.cpu_s, 2),
        "hub_cpu_share_of_one_core": round((usage1.cpu_s - usage0.cpu_s) / (t1 - t0), 3),
        "hub_rss_mb": round(usage1.rss_mb, 1), "hub_peak_rss_mb": round(rss, 1),
        "hub_loop_lag_ms": after.get("loop_lag_ms", {}),
        "profile_during_load": profile,
        "loop_lag_p99_ms_during_load": [s["loop_lag_p99_ms"] for s in samples],
        "idle_stages_ms": _stage_summary([r for r in stored if r["t"] < load_from]),
        "load_stages_ms": _stage_summary([r for r in stored if r["t"] >= load_from]),
        "idle_call_to_page_ms": _summary(idle, args.calls),
        "load_call_to_page_ms": {**_summary(loaded, None), "lost": lost_loaded},
        "targets": {"load_p99_ms": TARGET_LOAD_P99_MS, "idle_p99_ms": TARGET_IDLE_P99_MS},
    }


def _summary(values: list[float], wanted: int | None) -> dict[str, Any]:
    return {"n": len(values), "p50": round(statistics.median(values), 2) if values else None,
            "p99": None if not values else round(percentile(values, 99), 2),
            "max": round(max(values), 2) if values else None,
            "lost": None if wanted is None else wanted - len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=200, help="homes in the fleet (10000)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=1, help="hub ingest workers")
    parser.add_argument("--readings", type=int, default=5, help="readings per batch")
    parser.add_argument("--event-rate", type=float, default=0.001,
                        help="events per home per second (0.001: about 4 an hour)")
    parser.add_argument("--flapping", type=float, default=0.01,
                        help="share of homes going offline and online every 30 s")
    parser.add_argument("--calls", type=int, default=20, help="probe calls idle (and at most "
                                                              "this many under load)")
    parser.add_argument("--generators", type=int, default=2, help="load processes")
    parser.add_argument("--connections", type=int, default=4,
                        help="broker connections per load process")
    parser.add_argument("--profile", type=Path, help="py-spy the hub process during the load "
                                                      "(idle stacks too) into this raw file")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (the hub's log and database)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 150))
    root = Path(tempfile.mkdtemp(prefix="bedwatch-bench-fleet-"))
    try:
        figures = run(args, root, console)
    finally:
        if args.keep:
            console.print(f"kept the servers' and the hub's folders and logs in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    table = Table(title=f"{args.homes:,} homes for {args.duration:.0f} s against one hub "
                        f"({args.workers} ingest worker(s), {os.cpu_count()} cores)")
    for column in ("figure", "value", "target"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    idle, loaded = figures["idle_call_to_page_ms"], figures["load_call_to_page_ms"]
    table.add_row("reading batches asked of the generators",
                  f"{figures['published']['readings']:,}", "")
    table.add_row("messages acknowledged by the broker / taken by the hub",
                  f"{figures['published']['acked']:,} / {figures['hub_taken_messages']:,}", "")
    table.add_row("backlog growth, second half (messages)",
                  str(figures["backlog_growth_second_half"]), "none")
    table.add_row("hub CPU (share of one core)", f"{figures['hub_cpu_share_of_one_core']:.2f}",
                  "")
    table.add_row("hub RSS now / peak MB",
                  f"{figures['hub_rss_mb']:.0f} / {figures['hub_peak_rss_mb']:.0f}", "")
    table.add_row("call → page idle p50 / p99 ms", f"{idle['p50']} / {idle['p99']}",
                  f"p99 < {TARGET_IDLE_P99_MS:.0f}")
    table.add_row("call → page under load p50 / p99 ms (n)",
                  f"{loaded['p50']} / {loaded['p99']} ({loaded['n']})",
                  f"p99 < {TARGET_LOAD_P99_MS:.0f}")
    for phase in ("idle", "load"):
        for key, label in (("received_ms", "publish → stored by the hub"),
                           ("paged_ms", "stored → delivered")):
            if stage := figures[f"{phase}_stages_ms"].get(key):
                table.add_row(f"  {phase}: {label} p50 / p99 ms",
                              f"{stage['p50']} / {stage['p99']}", "")
    lags = [v for v in figures["loop_lag_p99_ms_during_load"] if v is not None]
    table.add_row("hub event loop lag during load: worst p99 of a minute ms",
                  f"{max(lags):.1f}" if lags else "—", "")
    table.add_row("load average before / after load",
                  f"{figures['load_average_before_load']:.1f} / "
                  f"{figures['load_average_after']:.1f}", "")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
