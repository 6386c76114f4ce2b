"""The bench's readings, line protocol and InfluxDB: what is published, and how it is counted."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bedwatch import wire
from hub.lineprotocol import reading_lines
from rig.stack import InfluxDB

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
    return reading_lines(home, readings)


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
