"""How fast the hub drains a backlog of readings into InfluxDB, and whether it loses any.

Issue 13 (a hub for 10,000 homes). The drain, against a real Mosquitto (persistence on, the
rig's settings) and a real InfluxDB 1.x: the hub runs (`bedwatch hub run`) until it has stored
a probe reading, so that its persistent sessions exist; it is killed (SIGKILL) so that the
broker queues for it; the homes publish the backlog (reading batches of 10, QoS 1, the wire
contract's own encoder, each home as its own broker user, from several processes); the hub is
started again and the readings in InfluxDB are counted (`SELECT count(...)`) until all are
there or the count has not grown for a minute. The rate is taken from the first reading seen
in InfluxDB to the last; lost = published - counted. (InfluxDB keeps one point per series and
time, so a reading written twice is counted once: duplicates are not countable here.)

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
a rate below target is reported, not failed.

    python bench/ingest.py [--readings N] [--homes N] [--skip-node-red] [--json PATH]
                           [--profile PATH] [--broker-autosave CHANGES]

`--profile` records the hub's drain with py-spy (if installed) and prints its hottest
functions; `--broker-autosave` overrides Mosquitto's autosave_interval (the rig saves its
whole store every 100 changes).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from rich.console import Console
from rich.table import Table

import hub as hub_package
from bedwatch import wire
from hub.broker import HUB_ROLE, READINGS_SUFFIX, BrokerCredentials, enrol_home, new_password
from hub.influx import reading_point
from hub.registry_file import REGISTRY_KEYS
from rig.site import CaregiverSpec, HomeSpec, LocalSite, Program, hub_config, write_toml
from rig.stack import InfluxDB, Mosquitto, StackError, _die_with_parent

BATCH = 10  # readings per ReadingBatch, as the figures have it
KIND = "vitals"
PROBE_KIND = "bench_probe"  # one reading that shows a consumer is subscribed and storing
COUNTED_FIELD = "heart_rate_bpm"  # every bench reading has it: counting it counts readings
LINES_PER_WRITE = 5000
WRITERS = 4
ALONE_RUNS = 3  # InfluxDB alone is timed this many times; the median counts
PUBLISHERS = 4
POLL_S = 0.2
STALL_S = 60.0  # the count has not grown this long: the drain is over, whatever is missing
# Readings are 1 ms apart within a home, from a whole second, so every reading is its own
# point (same series and time would overwrite) in ns and ms precision alike.
T0 = float(int(time.time()) - 6 * 3600)
TARGET_RATE = 150_000.0
TARGET_VS_NODE_RED = 1.6
NODE_RED_CACHE = Path.home() / ".cache" / "bedwatch-bench" / "node-red"
NODE_RED_PACKAGES = ("node-red@4", "node-red-contrib-influxdb")
NODE_RED_USER = "bench-node-red"  # bench only: a broker user with the hub's role


def home_ids(homes: int) -> list[str]:
    return [f"bench-{i:04d}" for i in range(homes)]


def share(readings: int, homes: int) -> list[int]:
    """Return how many readings each home sends (whole batches, as even as they go)."""
    batches = readings // BATCH
    return [BATCH * (batches // homes + (1 if i < batches % homes else 0)) for i in range(homes)]


def bench_readings(count: int) -> list[wire.Reading]:
    return [wire.Reading(device="bed", kind=KIND, t=T0 + k / 1000,
                         fields={COUNTED_FIELD: float(55 + k % 30),
                                 "breathing_rate_bpm": float(12 + k % 7)})
            for k in range(count)]


def home_payloads(home: str, count: int) -> list[bytes]:
    """Return the home's backlog: ReadingBatch payloads of BATCH readings each."""
    readings = bench_readings(count)
    return [wire.encode(wire.ReadingBatch(agent=home, seq=i, readings=readings[j:j + BATCH]))
            for i, j in enumerate(range(0, count, BATCH))]


def hub_lines(home: str, readings: list[wire.Reading]) -> list[str]:
    """Return the readings' line protocol as the hub makes it."""
    try:  # the hub's own batch encoder, where it has one
        from hub.lineprotocol import reading_lines
    except ImportError:
        return [reading_point(home, r) for r in readings]
    return list(reading_lines(home, readings))


def home_lines(job: tuple[str, int]) -> list[str]:
    home, count = job
    return hub_lines(home, bench_readings(count))


# --- InfluxDB ---------------------------------------------------------------------------------

def influx_query(influx: InfluxDB, q: str, db: str | None = None) -> list[dict[str, Any]]:
    """Run InfluxQL; return the first statement's series ([] when the database is absent)."""
    params = {"q": q, **({"db": db} if db else {})}
    request = urllib.request.Request(f"{influx.url}/query",
                                     data=urllib.parse.urlencode(params).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        result = json.loads(response.read())["results"][0]
    if "error" in result:
        if str(result["error"]).startswith("database not found"):
            return []
        raise RuntimeError(f"InfluxDB: {result['error']}")
    return list(result.get("series", []))


def influx_count(influx: InfluxDB, db: str, measurement: str = KIND) -> int:
    series = influx_query(influx, f'SELECT count("{COUNTED_FIELD}") FROM "{measurement}"', db)
    return int(series[0]["values"][0][1]) if series else 0


def influx_alone(influx: InfluxDB, db: str, shares: dict[str, int],
                 runs: int = ALONE_RUNS) -> dict[str, Any]:
    """Write the readings straight to /write with WRITERS clients, `runs` times (a database
    each); return the figures of the median run."""
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        lines = [line for chunk in pool.map(home_lines, shares.items()) for line in chunk]
    bodies = ["\n".join(lines[i:i + LINES_PER_WRITE]).encode()
              for i in range(0, len(lines), LINES_PER_WRITE)]
    local = threading.local()

    def write(path: str, body: bytes) -> None:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(influx.host, influx.port, timeout=60)
        local.conn.request("POST", path, body)
        response = local.conn.getresponse()
        answer = response.read()
        if response.status != 204:
            raise RuntimeError(f"InfluxDB /write answered {response.status}: {answer[:300]!r}")

    results = []
    for run in range(runs):
        name = f"{db}_{run + 1}"
        influx_query(influx, f'CREATE DATABASE "{name}"')
        path = f"/write?db={name}&precision=ns"
        start = time.perf_counter()
        with ThreadPoolExecutor(WRITERS) as writers:
            list(writers.map(lambda body, path=path: write(path, body), bodies))
        seconds = time.perf_counter() - start
        counted = influx_count(influx, name)
        results.append({"readings": len(lines), "counted": counted,
                        "lost": len(lines) - counted, "seconds": seconds,
                        "rate": len(lines) / seconds})
    median = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
    return {**median, "runs": [round(r["rate"]) for r in results], "writes": len(bodies),
            "lines_per_write": LINES_PER_WRITE, "writers": WRITERS}


# --- processes: CPU and memory from /proc -------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def process_tree(pid: int) -> list[int]:
    """Return `pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        out.append(current := todo.pop())
        todo.extend(children.get(current, []))
    return out


@dataclass
class Usage:
    """CPU seconds (user + system, reaped children included) and resident memory of a tree."""

    cpu_s: float = 0.0
    rss_mb: float = 0.0

    @classmethod
    def of(cls, pid: int | None) -> Usage:
        usage = cls()
        for one in process_tree(pid) if pid else []:
            if fields := _stat(one):
                usage.cpu_s += sum(int(x) for x in fields[11:15]) / _TICK
                usage.rss_mb += int(fields[21]) * _PAGE / 2**20
        return usage


def written_mb(pid: int | None) -> float:
    """Return what the process has written to storage so far, in MB (/proc/<pid>/io)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError):
        pass
    return 0.0


class PySpy:
    """py-spy recording a process's Python stacks (raw, collapsed) until `stop()`."""

    def __init__(self, pid: int, output: Path) -> None:
        self.output = output
        self.process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(binary).exists():
            self.error = "py-spy is not installed (pip install py-spy)"
            return
        self.error = ""
        # Attached, not wrapping, so the process tree measured is the consumer's own; give
        # the interpreter a moment to start.
        time.sleep(0.3)
        self.process = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--rate", "100", "--format", "raw",
             "--nonblocking", "--output", str(output)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self, top: int = 15) -> dict[str, Any]:
        """Stop recording; return the hottest functions by own samples (imports left out)."""
        if self.process is None:
            return {"error": self.error}
        self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        if not self.output.exists():
            return {"error": err.decode(errors="replace")[-300:]}
        own: dict[str, int] = {}
        total = 0
        for line in self.output.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit() or "importlib" in stack:  # start-up, not the drain
                continue
            leaf = stack.rsplit(";", 1)[-1]
            leaf = leaf.rsplit(":", 1)[0] + ")" if leaf.endswith(")") else leaf
            own[leaf] = own.get(leaf, 0) + int(n)
            total += int(n)
        hottest = sorted(own.items(), key=lambda kv: -kv[1])[:top]
        return {"file": str(self.output), "samples": total,
                "own": [{"function": f, "samples": n, "share": n / total} for f, n in hottest]}


def peak_rss_mb(pid: int) -> float:
    """Return the kernel's high-water mark of the process's resident memory (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --- MQTT -------------------------------------------------------------------------------------

def _connect(port: int, credentials: BrokerCredentials, *, clean: bool = True) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=credentials.client_id,
                         clean_session=clean, protocol=mqtt.MQTTv311)
    client.username_pw_set(credentials.username, credentials.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            connected.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    if not connected.wait(10):
        client.loop_stop()
        raise RuntimeError(f"{credentials.username} could not connect to the broker")
    return client


def _publish_homes(job: tuple[int, list[tuple[BrokerCredentials, int]]]) -> int:
    """Publish each home's backlog as that home; return how many messages the broker acked."""
    port, homes = job
    acked = 0
    for credentials, count in homes:
        payloads = home_payloads(credentials.username, count)
        client = _connect(port, credentials)
        topic = wire.readings_topic(credentials.username)
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(60)
            acked += info.is_published()
        client.disconnect()
        client.loop_stop()
    return acked


def publish_backlog(broker: Mosquitto, homes: dict[str, BrokerCredentials],
                    shares: dict[str, int]) -> dict[str, Any]:
    """Publish every home's share from PUBLISHERS processes; return counts and time."""
    jobs: list[list[tuple[BrokerCredentials, int]]] = [[] for _ in range(PUBLISHERS)]
    for i, (home, count) in enumerate(shares.items()):
        jobs[i % PUBLISHERS].append((homes[home], count))
    broker_pid = broker.process.pid if broker.process else None
    written = written_mb(broker_pid)
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(PUBLISHERS) as pool:
        acked = sum(pool.map(_publish_homes, [(broker.port, job) for job in jobs if job]))
    seconds = time.perf_counter() - start
    return {"messages": acked, "seconds": seconds,
            "broker_written_mb": written_mb(broker_pid) - written}


def publish_probe(broker: Mosquitto, credentials: BrokerCredentials) -> None:
    """Publish one reading of PROBE_KIND as the home: a consumer that stores it is subscribed."""
    client = _connect(broker.port, credentials)
    payload = wire.encode(wire.ReadingBatch(agent=credentials.username, seq=0, readings=[
        wire.Reading(device="bed", kind=PROBE_KIND, t=time.time(),
                     fields={COUNTED_FIELD: 1.0})]))
    client.publish(wire.readings_topic(credentials.username), payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def wait_until_storing(broker: Mosquitto, credentials: BrokerCredentials, influx: InfluxDB,
                       db: str, timeout_s: float) -> bool:
    """Publish a probe reading every 2 s until it is in `db`; return False on timeout.

    Before its first subscription a consumer has no session that could queue the probe.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        publish_probe(broker, credentials)
        for _ in range(10):
            if influx_count(influx, db, PROBE_KIND) > 0:
                return True
            time.sleep(0.2)
    return False


def queue_limit(broker: Mosquitto) -> int | None:
    """Return the broker's `max_queued_messages` (None: not set, Mosquitto's 1000 applies)."""
    for line in broker.config_path.read_text().splitlines():
        if line.startswith("max_queued_messages "):
            return int(line.split()[1])
    return None


# --- a drain ----------------------------------------------------------------------------------

@dataclass
class Drain:
    """What one consumer did with the backlog after its restart."""

    readings: int
    counted: int = 0
    restart_to_first_s: float | None = None
    first_to_last_s: float | None = None
    restart_to_last_s: float | None = None
    counted_after_first: int = 0
    cpu_s: float = 0.0  # from the restart to the last reading
    drain_cpu_s: float = 0.0  # from the first reading to the last
    peak_rss_mb: float = 0.0
    broker_cpu_s: float = 0.0
    broker_written_mb: float = 0.0  # what Mosquitto wrote to disk during the drain
    influxdb_cpu_s: float = 0.0
    published_messages: int = 0
    publish_s: float = 0.0
    publish_broker_written_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.readings - self.counted

    @property
    def rate(self) -> float | None:
        """Readings per second from the first reading seen in InfluxDB to the last."""
        if not self.first_to_last_s:
            return None
        return self.counted_after_first / self.first_to_last_s

    def figures(self) -> dict[str, Any]:
        return {**asdict(self), "lost": self.lost, "rate": self.rate}


def drain(influx: InfluxDB, db: str, readings: int, start: Callable[[], int],
          broker: Mosquitto, profile: Path | None = None) -> Drain:
    """Start the consumer (`start` returns its pid) and count until every reading is there.

    With `profile`, py-spy records the consumer's Python stacks into that file meanwhile.
    """
    result = Drain(readings=readings)
    broker_pid = broker.process.pid if broker.process else None
    broker_before = Usage.of(broker_pid).cpu_s
    written_before = written_mb(broker_pid)
    influx_before = Usage.of(influx.process.pid if influx.process else None).cpu_s
    t0 = time.perf_counter()
    pid = start()
    spy = PySpy(pid, profile) if profile else None
    cpu_at_first = 0.0
    first_at = None
    first_count = 0
    last_change, count = t0, 0
    usage = Usage()
    while True:
        now_count = influx_count(influx, db)
        now = time.perf_counter()
        usage = Usage.of(pid)
        result.peak_rss_mb = max(result.peak_rss_mb, usage.rss_mb)
        if now_count != count:
            count, last_change = now_count, now
        if count and first_at is None:
            first_at, first_count, cpu_at_first = now, count, usage.cpu_s
            result.restart_to_first_s = now - t0
        if count >= readings:
            result.restart_to_last_s = now - t0
            if first_at is not None and now > first_at:
                result.first_to_last_s = now - first_at
                result.counted_after_first = count - first_count
            break
        if now - last_change > STALL_S:
            break
        time.sleep(POLL_S)
    if spy is not None:
        result.extra["profile"] = spy.stop()
    result.counted = count
    result.cpu_s = usage.cpu_s
    result.drain_cpu_s = usage.cpu_s - cpu_at_first if first_at is not None else 0.0
    result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb(pid))
    result.broker_cpu_s = Usage.of(broker_pid).cpu_s - broker_before
    result.broker_written_mb = written_mb(broker_pid) - written_before
    result.influxdb_cpu_s = Usage.of(influx.process.pid if influx.process else None).cpu_s \
        - influx_before
    return result


# --- the hub ----------------------------------------------------------------------------------

def start_hub(site: LocalSite) -> Program:
    """Write the hub's config, import its registry and start `bedwatch hub run`.

    As `LocalSite.start_hub` does, without waiting for /healthz: the bench takes the hub as
    ready once it has stored a probe reading, which says more, and /healthz may answer 503
    until a first write reached InfluxDB.
    """
    folder = site.root / "hub"
    doc = hub_config(
        workdir=folder, mqtt_port=site.mosquitto.port, influx_url=site.influxdb.url,
        api_port=int(site.api.rsplit(":", 1)[1]), homes=site.homes, database=site.database,
        secret=site.secret, sites=site.sites,
        caregivers=[CaregiverSpec(c.id, c.name, c.site, [site.sink.url(c.id)], role=c.role)
                    for c in site.caregivers])
    registry = {key: doc.pop(key) for key in REGISTRY_KEYS if key in doc}
    config = write_toml(folder / "hub.toml", doc)
    registry_path = write_toml(folder / "registry.toml", registry)
    importer = Program("hub-import", ["hub", "import-registry", "--config", str(config),
                                      str(registry_path)], folder / "hub.log").start()
    assert importer.process is not None
    if importer.process.wait(120) != 0:
        raise RuntimeError(f"the registry import failed:\n{importer.log_tail()}")
    site.hub = Program("hub", ["hub", "run", "--config", str(config)], folder / "hub.log")
    return site.hub.start()


def hub_drain(root: Path, broker: Mosquitto, influx: InfluxDB,
              homes: dict[str, BrokerCredentials], shares: dict[str, int],
              profile: Path | None = None) -> Drain:
    """Run the hub, kill it, publish the backlog, restart it and count."""
    db = "bench_hub"
    with LocalSite(root / "hub-site", mosquitto=broker, influxdb=influx, database=db) as site:
        site.homes.extend(HomeSpec(id=home, site="town", resident=f"Resident {home}",
                                   address="Bench") for home in homes)
        hub = start_hub(site)
        if not wait_until_storing(broker, next(iter(homes.values())), influx, db, 120):
            raise RuntimeError(f"the hub stored no probe reading within 120 s; its log:\n"
                               f"{hub.log_tail()}")
        hub.kill()
        sent = publish_backlog(broker, homes, shares)

        def start() -> int:
            site.hub = Program("hub", hub.args, hub.log_path).start()
            assert site.hub.process is not None
            return site.hub.process.pid

        result = drain(influx, db, sum(shares.values()), start, broker, profile)
        result.published_messages, result.publish_s = sent["messages"], sent["seconds"]
        result.publish_broker_written_mb = sent["broker_written_mb"]
        site.hub.stop()
        result.extra["hub_log_tail"] = site.hub.log_tail(5)
        # Drop the hub's readings session, so that later backlogs are not queued for it too.
        assert site.hub_credentials is not None
        lane = site.hub_credentials
        wipe = _connect(broker.port, BrokerCredentials(lane.username + READINGS_SUFFIX,
                                                       lane.password,
                                                       lane.client_id + READINGS_SUFFIX))
        wipe.disconnect()
        wipe.loop_stop()
    return result


# --- Node-RED ---------------------------------------------------------------------------------

def install_node_red() -> Path:
    """Return the folder holding node-red's node_modules, installing it on first use."""
    red = NODE_RED_CACHE / "node_modules" / "node-red" / "red.js"
    contrib = NODE_RED_CACHE / "node_modules" / "node-red-contrib-influxdb" / "package.json"
    if red.exists() and contrib.exists():
        return NODE_RED_CACHE
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("npm or node is not installed (apt-get install npm)")
    NODE_RED_CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(NODE_RED_CACHE), "--no-audit",
                           "--no-fund", *NODE_RED_PACKAGES],
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or not red.exists():
        raise RuntimeError(f"npm install {' '.join(NODE_RED_PACKAGES)} failed: "
                           f"{(done.stderr or done.stdout).strip()[-300:]}")
    return NODE_RED_CACHE


_TO_POINTS = """const home = msg.topic.split('/')[2];
msg.payload = msg.payload.readings.map(r => ({measurement: r.kind,
    tags: {home: home, device: r.device}, fields: r.fields,
    timestamp: new Date(Math.round(r.t * 1000))}));
return msg;"""


def node_red_flow(broker: Mosquitto, influx: InfluxDB, db: str) -> list[dict[str, Any]]:
    """Return the flow: mqtt in → function → join → function (flatten) → influxdb batch."""
    return [
        {"id": "bench-tab", "type": "tab", "label": "bedwatch bench"},
        {"id": "bench-broker", "type": "mqtt-broker", "name": "bench broker",
         "broker": "127.0.0.1", "port": str(broker.port), "clientid": NODE_RED_USER,
         "autoConnect": True, "usetls": False, "protocolVersion": "4", "keepalive": "60",
         "cleansession": False, "autoUnsubscribe": False},
        {"id": "bench-influx", "type": "influxdb", "hostname": influx.host,
         "port": str(influx.port), "protocol": "http", "database": db, "name": "bench",
         "usetls": False, "influxdbVersion": "1.x"},
        {"id": "bw-in", "type": "mqtt in", "z": "bench-tab", "name": "readings",
         "topic": f"{wire.TOPIC_ROOT}/+/readings", "qos": "1", "datatype": "json",
         "broker": "bench-broker", "nl": False, "rap": True, "rh": 0, "inputs": 0,
         "wires": [["bw-points"]]},
        {"id": "bw-points", "type": "function", "z": "bench-tab", "name": "batch to points",
         "func": _TO_POINTS, "outputs": 1, "wires": [["bw-join"]]},
        {"id": "bw-join", "type": "join", "z": "bench-tab", "name": "5000 points",
         "mode": "custom", "build": "array", "property": "payload", "propertyType": "msg",
         "key": "topic", "joiner": "\\n", "joinerType": "str", "accumulate": False,
         "timeout": "0.5", "count": str(LINES_PER_WRITE // BATCH), "reduceRight": False,
         "wires": [["bw-flatten"]]},
        {"id": "bw-flatten", "type": "function", "z": "bench-tab", "name": "flatten",
         "func": "msg.payload = msg.payload.flat();\nreturn msg;", "outputs": 1,
         "wires": [["bw-write"]]},
        {"id": "bw-write", "type": "influxdb batch", "z": "bench-tab", "influxdb": "bench-influx",
         "precision": "ms", "retentionPolicy": "", "name": "influxdb", "wires": []},
    ]


class NodeRed:
    """Node-RED 4 running the bench flow, with its user folder in `folder`."""

    def __init__(self, install: Path, folder: Path, broker: Mosquitto, influx: InfluxDB,
                 db: str, credentials: BrokerCredentials) -> None:
        self.red = install / "node_modules" / "node-red" / "red.js"
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.js").write_text(
            "module.exports = {flowFile: 'flows.json', credentialSecret: false,\n"
            "  uiHost: '127.0.0.1', uiPort: 0, httpAdminRoot: false, httpNodeRoot: false,\n"
            "  logging: {console: {level: 'warn', metrics: false, audit: false}}};\n")
        (folder / "flows.json").write_text(json.dumps(node_red_flow(broker, influx, db)))
        (folder / "flows_cred.json").write_text(json.dumps({"bench-broker": {
            "user": credentials.username, "password": credentials.password}}))
        self.log = folder / "node-red.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        node = shutil.which("node") or "node"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [node, str(self.red), "--userDir", str(self.folder)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent, cwd=self.folder)
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tail(self, lines: int = 10) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def node_red_drain(root: Path, broker: Mosquitto, influx: InfluxDB,
                   homes: dict[str, BrokerCredentials], shares: dict[str, int]) -> Drain:
    """Run Node-RED, kill it, publish the backlog, restart it and count."""
    install = install_node_red()
    db = "bench_node_red"
    credentials = BrokerCredentials(NODE_RED_USER, new_password(), NODE_RED_USER)
    with broker.admin_session() as admin:
        admin.set_client(credentials, HUB_ROLE, textname="bench only: Node-RED baseline")
    influx_query(influx, f'CREATE DATABASE "{db}"')
    red = NodeRed(install, root / "node-red", broker, influx, db, credentials)
    try:
        red.start()
        if not wait_until_storing(broker, next(iter(homes.values())), influx, db, 120):
            raise RuntimeError(f"Node-RED stored no probe reading within 120 s; its log:\n"
                               f"{red.log_tail()}")
        red.stop(signal.SIGKILL)
        sent = publish_backlog(broker, homes, shares)
        result = drain(influx, db, sum(shares.values()), red.start, broker)
        result.published_messages, result.publish_s = sent["messages"], sent["seconds"]
        result.publish_broker_written_mb = sent["broker_written_mb"]
    finally:
        red.stop()
    with broker.admin_session() as admin:  # its session and user go with it
        admin.run({"command": "deleteClient", "username": NODE_RED_USER})
    return result


# --- the run ----------------------------------------------------------------------------------

def enrol_homes(broker: Mosquitto, homes: int) -> dict[str, BrokerCredentials]:
    with broker.admin_session() as admin:
        return {home: enrol_home(admin, home) for home in home_ids(homes)}


def source_digest(folder: Path) -> str:
    """Return a short digest of the Python sources under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=100_000,
                        help="readings in the backlog (the issue's figure: 600000)")
    parser.add_argument("--homes", type=int, default=200, help="homes publishing it")
    parser.add_argument("--skip-node-red", action="store_true", help="no Node-RED baseline")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--profile", type=Path,
                        help="record the hub's drain with py-spy into this file (raw stacks) "
                             "and print its hottest functions")
    parser.add_argument("--broker-autosave", type=int, metavar="CHANGES",
                        help="Mosquitto's autosave_interval (changes between saves of its "
                             "store); default: the rig's, as docs/protocol.md has it")
    args = parser.parse_args()
    if args.readings < BATCH * args.homes:
        parser.error(f"--readings must be at least {BATCH} per home")
    shares = dict(zip(home_ids(args.homes), share(args.readings, args.homes), strict=True))
    readings = sum(shares.values())
    console = Console()
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
    try:
        influx.start()
        limit = queue_limit(broker)
        figures["broker"] = {"max_queued_messages": limit,
                             "autosave_interval_changes": broker.autosave_changes}
        if readings // BATCH > (limit or 1000):
            raise SystemExit(f"the backlog ({readings // BATCH} messages) exceeds the broker's "
                             f"max_queued_messages ({limit}): the broker would drop messages")
        homes = enrol_homes(broker, args.homes)
        console.print(f"{readings:,} readings from {args.homes} homes "
                      f"({readings // BATCH:,} messages); servers in {root}; load average "
                      f"{os.getloadavg()[0]:.1f}; hub/ sources {figures['hub_source_sha256']}")

        console.print("InfluxDB alone …")
        alone = influx_alone(influx, "bench_direct", shares)
        figures["influxdb_alone"] = alone

        console.print("hub drain …")
        hub = hub_drain(root, broker, influx, homes, shares, args.profile)
        figures["hub"] = hub.figures()

        red: Drain | None = None
        if args.skip_node_red:
            figures["node_red"] = {"skipped": "--skip-node-red"}
        else:
            console.print("Node-RED drain …")
            try:
                red = node_red_drain(root, broker, influx, homes, shares)
                figures["node_red"] = red.figures()
            except (RuntimeError, OSError, TimeoutError, subprocess.SubprocessError,
                    StackError) as exc:
                figures["node_red"] = {"skipped": str(exc)}
                console.print(f"[yellow]Node-RED skipped: {exc}[/yellow]")
    finally:
        influx.stop()
        broker.stop()

    ceiling = alone["rate"]
    drains = [("hub", hub)] + ([("Node-RED+join", red)] if red is not None else [])
    table = Table(title=f"Backlog drain into InfluxDB: {readings:,} readings from "
                        f"{args.homes} homes ({os.cpu_count()} cores)")
    for column in ("path", "counted", "lost", "s", "readings/s", "× hub", "× InfluxDB"):
        table.add_column(column, justify="left" if column == "path" else "right")

    def cells(rate: float | None) -> list[str]:
        return [f"{rate:,.0f}" if rate else "-",
                *(f"{r:.2f}" if (r := ratio(rate, base)) else "-" for base in (hub.rate,
                                                                                ceiling))]

    for name, one in drains:
        table.add_row(name, f"{one.counted:,}", f"{one.lost:,}",
                      f"{one.first_to_last_s:.2f}" if one.first_to_last_s else "-",
                      *cells(one.rate))
    table.add_row("InfluxDB alone", f"{alone['counted']:,}", f"{alone['lost']:,}",
                  f"{alone['seconds']:.2f}", *cells(ceiling))
    console.print(table)
    console.print(f"s: from the first reading seen in InfluxDB to the last (polled every "
                  f"{POLL_S} s); InfluxDB alone: {WRITERS} clients, {LINES_PER_WRITE}-line "
                  f"writes, the hub's line protocol, median of {ALONE_RUNS} runs "
                  f"({', '.join(f'{r:,}' for r in alone['runs'])} readings/s)")
    details = Table(title="During each drain (CPU s: user + system)")
    for column in ("path", "→first s", "→last s", "CPU s", "drain CPU s", "RSS MB",
                   "broker CPU s", "broker MB written", "influxd CPU s"):
        details.add_column(column, justify="left" if column == "path" else "right")
    for name, one in drains:
        details.add_row(name, *(f"{v:.1f}" if v is not None else "-" for v in (
            one.restart_to_first_s, one.restart_to_last_s)), f"{one.cpu_s:.1f}",
            f"{one.drain_cpu_s:.1f}", f"{one.peak_rss_mb:.0f}", f"{one.broker_cpu_s:.1f}",
            f"{one.broker_written_mb:,.0f}", f"{one.influxdb_cpu_s:.1f}")
    console.print(details)
    console.print("→first, →last: from the restart; CPU s: the consumer's process tree from "
                  "the restart, drain CPU s: from the first reading to the last; RSS: peak")
    for name, one in drains:
        console.print(f"{name}: backlog of {one.published_messages:,} messages published "
                      f"(acked by the broker) in {one.publish_s:.1f} s; the broker wrote "
                      f"{one.publish_broker_written_mb:,.0f} MB meanwhile (autosave every "
                      f"{broker.autosave_changes} changes)")
    if "profile" in hub.extra:
        spy = hub.extra["profile"]
        if "error" in spy:
            console.print(f"hub profile: not recorded ({spy['error']})")
        else:
            console.print(f"hub profile ({spy['samples']:,} samples in {spy['file']}), "
                          "hottest functions by own samples:")
            for one in spy["own"]:
                console.print(f"  {one['share']:6.1%}  {one['function']}")
    if red is None:
        console.print(f"Node-RED: skipped ({figures['node_red']['skipped']})")

    vs_red = ratio(hub.rate, red.rate if red else None)
    met = {"rate": (hub.rate or 0) >= TARGET_RATE,
           "vs_node_red": None if vs_red is None else vs_red >= TARGET_VS_NODE_RED,
           "lost": hub.lost == 0}
    figures["target"] = {"rate": TARGET_RATE, "vs_node_red": TARGET_VS_NODE_RED, "lost": 0,
                         "hub_vs_node_red": vs_red, "hub_vs_influxdb_alone": ratio(hub.rate,
                                                                                   ceiling),
                         "met": met, "all_met": all(v is True for v in met.values())}
    mark = {True: "met", False: "NOT met", None: "not measured"}
    console.print(f"target: ≥ {TARGET_RATE:,.0f} readings/s ({mark[met['rate']]}: "
                  f"{hub.rate or 0:,.0f}), ≥ {TARGET_VS_NODE_RED}× Node-RED "
                  f"({mark[met['vs_node_red']]}: {f'{vs_red:.2f}×' if vs_red else '-'}), 0 lost "
                  f"({mark[met['lost']]}: {hub.lost})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if hub.lost or (red is not None and red.lost):
        console.print(f"readings were lost: logs and data kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    # Lost readings fail `make bench`; a rate below target is a figure, not a failure.
    return 0 if hub.lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
