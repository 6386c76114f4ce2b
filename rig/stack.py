"""Run real Mosquitto and InfluxDB servers as child processes for tests and the demo.

Each server gets a free loopback port, a generated config file and a data folder of its
own, waits until it answers, and is stopped on exit. Children are tied to this process
with PR_SET_PDEATHSIG so that none outlives it, even after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from rig.identities import BrokerIdentities, init_security
from rig.pki import Issued, TestCA

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# The largest MQTT packet the broker takes: the wire contract's largest payload (256 KiB) with
# room for the topic and headers; anything bigger costs the sender its connection.
MAX_PACKET_BYTES = 256 * 1024 + 4096
# Seconds between saves of the broker's store (Mosquitto's default is 1800).
AUTOSAVE_S = 30


class StackError(RuntimeError):
    """A local server could not be found, started or reached."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_binary(name: str, *extra_dirs: str) -> str:
    """Return the path of a server binary or raise StackError saying how to install it."""
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", *extra_dirs):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    package = {"mosquitto": "mosquitto", "influxd": "influxdb"}.get(name, name)
    raise StackError(
        f"{name} not found; install the Debian package: apt-get install {package} "
        "(or run `make demo` / `make test`, which install it)"
    )


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: a SIGTERM arrives when the parent dies.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # Ctrl-C in a terminal goes to the parent, which stops children in order.
    os.setpgrp()


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class _Server:
    """A child server process with a config file and a log in `workdir`."""

    name = "server"
    start_timeout_s = 30.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"{self.name}.log"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> Self:
        """Start the server and wait until it answers."""
        if self.process is not None and self.process.poll() is None:
            return self
        command = self._command()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(
                    f"{self.name} exited with code {self.process.returncode}; "
                    f"log:\n{self.log_tail()}"
                )
            if self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise StackError(f"{self.name} did not answer within {self.start_timeout_s:.0f} s; "
                         f"log:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout_s`)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kill the server abruptly, as a power cut would."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self) -> Self:
        """Stop and start again on the same port with the same data."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the server's log."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def find_dynsec_plugin() -> str:
    """Return the path of Mosquitto's dynamic-security plugin or raise StackError."""
    patterns = ("/usr/lib/*/mosquitto_dynamic_security.so",
                "/usr/lib/mosquitto*/mosquitto_dynamic_security.so",
                "/usr/lib/mosquitto_dynamic_security.so",
                "/usr/local/lib/mosquitto_dynamic_security.so",
                "/usr/local/lib/*/mosquitto_dynamic_security.so")
    for pattern in patterns:
        for found in sorted(glob.glob(pattern)):
            return found
    raise StackError("mosquitto_dynamic_security.so not found; it ships with the Debian "
                     "package: apt-get install mosquitto")


class Mosquitto(BrokerIdentities, _Server):
    """A Mosquitto broker on a loopback port with persistence in `workdir`.

    Like a deployment, it admits no anonymous client: users, their bound client ids and their
    ACLs live in the dynamic-security plugin (`dynamic-security.json` in `workdir`, kept across
    restarts), administered by an admin user whose random password is in `admin-password`.
    With `tls=True` it also listens with TLS on `tls_port`, its certificate signed by a
    throwaway CA (`ca_file`).
    """

    name = "mosquitto"

    def __init__(self, workdir: Path, port: int | None = None, *,
                 autosave_changes: int | None = None, autosave_s: int = AUTOSAVE_S,
                 tls: bool = False) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        # Saves by time unless a number of changes is asked for (docs/scaling.md, "Autosave").
        self.autosave_changes = autosave_changes
        self.autosave_s = autosave_s
        self.binary = find_binary("mosquitto")
        self.plugin = find_dynsec_plugin()
        self.config_path = self.workdir / "mosquitto.conf"
        self.dynsec_path = self.workdir / "dynamic-security.json"
        self.admin_password_file = self.workdir / "admin-password"
        (self.workdir / "data").mkdir(exist_ok=True)
        self.tls_port: int | None = free_port() if tls else None
        self.ca: TestCA | None = None
        self.server_cert: Issued | None = None
        if tls:
            self.ca = TestCA(self.workdir / "pki")
            self.server_cert = self.ca.issue_server([self.host, "localhost"])

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate that signed the broker's (None without TLS)."""
        return self.ca.cert_file if self.ca else None

    def _security_lines(self) -> list[str]:
        init_security(find_binary("mosquitto_ctrl", "/usr/bin"), self.dynsec_path,
                      self.admin_password_file, self.admin_username, self.admin_client_id)
        return ["allow_anonymous false", f"plugin {self.plugin}",
                f"plugin_opt_config_file {self.dynsec_path}"]

    def _command(self) -> list[str]:
        lines = [
            f"listener {self.port} {self.host}",
            *self._security_lines(),
            "persistence true",
            f"persistence_location {self.workdir / 'data'}/",
            # Each save rewrites the whole store: saving every N changes costs I/O that grows
            # with the square of a queue, saving every `autosave_s` seconds costs one store per
            # interval. A crash loses what changed since the last save; events are safe
            # regardless (the edge re-sends each until the hub's receipt).
            *self._autosave_lines(),
            # Default 1000 then drops the newest (references.md §6): keep far more for a hub
            # (or an InfluxDB) that was away, bounded by memory (docs/protocol.md, "The broker").
            "max_queued_messages 1000000",
            # Above the hub's mqtt.max_unacked (990): the hub holds reading batches unacked
            # until InfluxDB has them, and writes at once when it holds that many.
            "max_inflight_messages 1000",
            # A client that sends a bigger packet is disconnected: no message on the wire may
            # exceed the contract's bound (bedwatch.wire.MAX_PAYLOAD_BYTES) plus the topic.
            f"max_packet_size {MAX_PACKET_BYTES}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.tls_port is not None and self.server_cert is not None and self.ca is not None:
            lines += [f"listener {self.tls_port} {self.host}",
                      f"certfile {self.server_cert.cert_file}",
                      f"keyfile {self.server_cert.key_file}",
                      f"cafile {self.ca.cert_file}"]
        if os.geteuid() == 0:
            # As root Mosquitto would switch to user 'mosquitto', who cannot write our temp dir.
            lines.append("user root")
        self.config_path.write_text("\n".join(lines) + "\n")
        return [self.binary, "-c", str(self.config_path)]

    def save(self, timeout_s: float = 10.0) -> None:
        """Make the broker write its store now (SIGUSR1, mosquitto(8)) and wait until it has:
        sessions, subscriptions and queued messages as they are this moment."""
        assert self.process is not None, "the broker is not running"
        store = self.workdir / "data" / "mosquitto.db"
        before = store.stat().st_mtime_ns if store.exists() else None
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if store.exists() and store.stat().st_mtime_ns != before:
                return
            time.sleep(0.02)
        raise TimeoutError(f"the broker did not write {store} within {timeout_s} s")

    def _autosave_lines(self) -> list[str]:
        if self.autosave_changes is not None:
            return ["autosave_on_changes true", f"autosave_interval {self.autosave_changes}"]
        return ["autosave_on_changes false", f"autosave_interval {self.autosave_s}"]

    def _ready(self) -> bool:
        return _port_open(self.host, self.port) and (
            self.tls_port is None or _port_open(self.host, self.tls_port))


class HomeMosquitto(Mosquitto):
    """The broker inside one home that zigbee2mqtt publishes to, not the hub's broker.

    zigbee2mqtt and the agent's zigbee driver share it on the Pi's loopback interface, where
    it runs as zigbee2mqtt's own set-up has it: anonymous, reachable from that machine only.
    """

    def _security_lines(self) -> list[str]:
        return ["allow_anonymous true"]


class InfluxDB(_Server):
    """An InfluxDB 1.x server (`influxd`) on loopback ports with its data in `workdir`."""

    name = "influxd"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.binary = find_binary("influxd")
        self.config_path = self.workdir / "influxdb.conf"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _command(self) -> list[str]:
        d = self.workdir
        self.config_path.write_text(
            f"""reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"

[meta]
  dir = "{d / 'meta'}"

[data]
  dir = "{d / 'data'}"
  wal-dir = "{d / 'wal'}"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  log-enabled = false
"""
        )
        return [self.binary, "-config", str(self.config_path)]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as response:
                return bool(response.status == 204)
        except (urllib.error.URLError, OSError):
            return False


class LocalStack:
    """Mosquitto and InfluxDB together, in one folder, for the demo and tests."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.mosquitto = Mosquitto(self.workdir / "mosquitto")
        self.influxdb = InfluxDB(self.workdir / "influxdb")

    def start(self) -> Self:
        """Start both servers (stopping the first if the second fails)."""
        self.mosquitto.start()
        try:
            self.influxdb.start()
        except BaseException:
            self.mosquitto.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers."""
        self.influxdb.stop()
        self.mosquitto.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
