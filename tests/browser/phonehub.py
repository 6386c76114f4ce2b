"""The hub's web app served on a loopback port in this process, for a real browser: the
station of `tests.hub.phonesite`, its vital signs in the test's InfluxDB, and Chromium."""

from __future__ import annotations

import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from hub.web import WebContext, create_app
from rig.stack import InfluxDB, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PHONE = {"width": 412, "height": 915}
DESK = {"width": 1280, "height": 800}
NARROW = {"width": 360, "height": 780}


@contextmanager
def serve(context: WebContext) -> Iterator[str]:
    """Serve the web app of `context` in a thread; yield its base URL; stop it after."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(context), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, name="phone-hub", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def influx_with_vitals(influxdb: InfluxDB, database: str, home: str,
                       heart: float, breath: float, bp: tuple[float, float]) -> dict[str, Any]:
    """Write a home's recent readings into a fresh database; return the hub's influx section."""
    def post(path: str, body: str) -> None:
        request = urllib.request.Request(f"{influxdb.url}{path}", data=body.encode(),
                                         method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    now = time.time_ns()
    post("/query", f"q=CREATE DATABASE {database}")
    post(f"/write?db={database}",
         f"vitals,device=bed,home={home} heart_rate_bpm={heart},breathing_rate_bpm={breath} "
         f"{now - 90 * 10**9}\n"
         f"bp,device=cuff,home={home} systolic_mmhg={bp[0]},diastolic_mmhg={bp[1]} "
         f"{now - 2 * 3600 * 10**9}\n")
    return {"url": influxdb.url, "database": database}


def screenshots_dir() -> Path:
    """Return where the screenshots go: `var/screenshots/` of the repository (git-ignored)."""
    folder = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
