"""A simulated care organisation on one machine: configs and processes of a hub and its homes.

Used by `bedwatch demo` and by the end-to-end tests, so both run the same programs the same
way a deployment does: `bedwatch hub run` and `bedwatch edge run` as separate processes,
talking through a real broker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import tomli_w

from bedwatch.stack import _die_with_parent, free_port


@dataclass
class HomeSpec:
    """One simulated home: its id, site, resident and device configs."""

    id: str
    site: str
    resident: str
    address: str
    devices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CaregiverSpec:
    id: str
    name: str
    site: str
    notify: list[str]
    role: str = "oncall"


def hub_config(*, workdir: Path, mqtt_port: int, influx_url: str, api_port: int,
               homes: list[HomeSpec], caregivers: list[CaregiverSpec],
               sites: list[dict[str, Any]], database: str = "bedwatch") -> dict[str, Any]:
    """Return a hub config document for a local site."""
    return {
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port},
        "influx": {"url": influx_url, "database": database, "flush_interval_s": 0.5},
        "database": {"url": f"sqlite:///{workdir / 'hub.sqlite'}"},
        "api": {"host": "127.0.0.1", "port": api_port,
                "public_url": f"http://127.0.0.1:{api_port}", "secret": os.urandom(16).hex()},
        "sites": sites,
        "homes": [{"id": h.id, "site": h.site, "address": h.address,
                   "resident": {"name": h.resident}} for h in homes],
        "caregivers": [{"id": c.id, "name": c.name, "site": c.site, "role": c.role,
                        "notify": c.notify} for c in caregivers],
    }


def edge_config(*, home: HomeSpec, mqtt_port: int, workdir: Path) -> dict[str, Any]:
    """Return an edge agent config document for one simulated home."""
    return {
        "home": home.id,
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port},
        "outbox": {"path": str(workdir / f"{home.id}-outbox.sqlite")},
        "devices": home.devices,
    }


class Program:
    """A `bedwatch` subcommand running as a child process with its log in a file."""

    def __init__(self, name: str, args: list[str], log_path: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bedwatch", *self.args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent, env=env,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Ask the program to stop (SIGTERM) and wait; kill it if it does not."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def kill(self) -> None:
        """Kill the program abruptly, as a power cut would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


def write_toml(path: Path, doc: dict[str, Any]) -> Path:
    """Write a config document as TOML and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(doc))
    return path


def wait_http(url: str, timeout_s: float = 30.0, program: Program | None = None) -> Any:
    """Wait until `url` answers 200; return its JSON body."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if program is not None and not program.running:
            raise RuntimeError(f"{program.name} exited; log:\n{program.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return json.loads(response.read() or b"null")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = exc
            time.sleep(0.1)
    detail = program.log_tail() if program else ""
    raise TimeoutError(f"{url} did not answer within {timeout_s} s ({last}); {detail}")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


__all__ = ["CaregiverSpec", "HomeSpec", "Program", "edge_config", "free_port", "get_json",
           "hub_config", "wait_http", "write_toml"]
