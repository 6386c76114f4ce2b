"""A care organisation on one machine: servers, a hub, one agent per home, simulated devices
and a notification sink.

`LocalSite` assembles it for `bedwatch demo`, the alert-latency benchmark and the end-to-end
tests, so all of them run the same programs the same way a deployment does: `bedwatch hub run`
and `bedwatch edge run` as separate processes, talking through a real broker.
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
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import tomli_w

from firmware_sim.bed_sensor import bed_sim
from firmware_sim.call_button import CallButtonSim
from firmware_sim.sampled_board import BoardSim
from hub.broker import BrokerCredentials
from hub.enrolment import write_secret
from hub.registry_file import REGISTRY_KEYS
from rig.sink import Notification, NotificationSink
from rig.stack import InfluxDB, LocalStack, Mosquitto, _die_with_parent, free_port


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


HUB_CLIENT_ID = "bedwatch-hub"
HUB_PASSWORD_FILE = "mqtt-password"  # in the hub's folder
EDGE_PASSWORD_FILE = "mqtt-password"  # beside each home's edge.toml

DEFAULT_SITES: list[dict[str, Any]] = [{"id": "town", "name": "Town station", "kind": "urban"}]
DEFAULT_CAREGIVERS = [CaregiverSpec("cg-zhang", "Zhang Min", "town", [])]


def hub_config(*, workdir: Path, mqtt_port: int, influx_url: str, api_port: int,
               homes: list[HomeSpec], caregivers: list[CaregiverSpec],
               sites: list[dict[str, Any]], secret: str,
               database: str = "bedwatch") -> dict[str, Any]:
    """Return a hub config document for a local site: the service's settings, and the
    registry tables (`REGISTRY_KEYS`) that `LocalSite.start_hub` imports into its database."""
    return {
        # The hub's broker users and password (LocalSite.start writes the file).
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "client_id": HUB_CLIENT_ID,
                 "password_file": str(workdir / HUB_PASSWORD_FILE)},
        "influx": {"url": influx_url, "database": database, "flush_interval_s": 0.5},
        "database": {"url": f"sqlite:///{workdir / 'hub.sqlite'}"},
        "api": {"host": "127.0.0.1", "port": api_port,
                "public_url": f"http://127.0.0.1:{api_port}", "secret": secret},
        "sites": sites,
        "homes": [{"id": h.id, "site": h.site, "address": h.address,
                   "resident": {"name": h.resident}} for h in homes],
        "caregivers": [{"id": c.id, "name": c.name, "site": c.site, "role": c.role,
                        "notify": c.notify} for c in caregivers],
    }


def edge_config(*, home: HomeSpec, mqtt_port: int, workdir: Path,
                credentials: BrokerCredentials | None = None) -> dict[str, Any]:
    """Return an edge agent config document for one simulated home.

    With `credentials`, the agent connects as the home's broker user, its password read from
    `mqtt-password` beside the config (as `bedwatch hub enrol-home` writes it).
    """
    mqtt: dict[str, Any] = {"host": "127.0.0.1", "port": mqtt_port}
    if credentials is not None:
        mqtt.update(username=credentials.username, client_id=credentials.client_id,
                    password_file=EDGE_PASSWORD_FILE)
    return {
        "home": home.id,
        "mqtt": mqtt,
        "outbox": {"path": str(workdir / f"{home.id}-outbox.sqlite")},
        "devices": home.devices,
    }


class LocalSite:
    """A care organisation in folder `root`, started and stopped as one.

    Servers: the given Mosquitto and InfluxDB (the caller starts and stops them), or, when
    none are given, a `LocalStack` of its own in `root/servers`. Pages go to `sink`; a
    caregiver without `notify` URLs gets the sink's URL under its id. The API port and the
    signing key are chosen once, so a restarted hub answers the same links.

        with LocalSite(root) as site:
            home = site.add_home(resident="Wang Guirong", address="Qingshan Road 12")
            site.start_hub()
            site.start_agent(home)
            site.buttons[home.id].press()
    """

    def __init__(self, root: Path, *, mosquitto: Mosquitto | None = None,
                 influxdb: InfluxDB | None = None, database: str = "bedwatch",
                 sites: list[dict[str, Any]] | None = None,
                 caregivers: list[CaregiverSpec] | None = None,
                 on_notification: Callable[[Notification], None] | None = None) -> None:
        self.root = Path(root)
        self.database = database
        self.sites = list(sites or DEFAULT_SITES)
        self.caregivers = list(caregivers or DEFAULT_CAREGIVERS)
        self._stack: LocalStack | None = None
        if mosquitto is None or influxdb is None:
            if mosquitto is not None or influxdb is not None:
                raise ValueError("give both servers or neither")
            self._stack = LocalStack(self.root / "servers")
            mosquitto, influxdb = self._stack.mosquitto, self._stack.influxdb
        self.mosquitto: Mosquitto = mosquitto
        self.influxdb: InfluxDB = influxdb
        self.sink = NotificationSink(on_notification=on_notification)
        self._sink_started = False
        self.api = f"http://127.0.0.1:{free_port()}"
        self.secret = os.urandom(16).hex()
        self.hub: Program | None = None
        # API logins made by `login()`: (user name, password) and (token, renew at), by person.
        self._users: dict[str, tuple[str, str]] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self.hub_credentials: BrokerCredentials | None = None  # set by start()
        self.agents: dict[str, Program] = {}
        self.buttons: dict[str, CallButtonSim] = {}
        self.boards: dict[str, BoardSim] = {}
        self.homes: list[HomeSpec] = []

    def start(self) -> Self:
        """Start the sink and the servers (when the site owns them)."""
        if not self._sink_started:
            self.sink.start()
            self._sink_started = True
        if self._stack is not None:
            self._stack.start()
        # The hub's broker identity, as `bedwatch hub broker-init` makes it.
        self.hub_credentials = self.mosquitto.hub_credentials(HUB_CLIENT_ID)
        write_secret(self.root / "hub" / HUB_PASSWORD_FILE, self.hub_credentials.password)
        return self

    def stop(self) -> None:
        """Stop the hub first (agents going away on purpose must not page anyone), then the
        agents, the simulated devices, the sink and the servers the site owns."""
        if self.hub is not None:
            self.hub.stop()
        for agent in self.agents.values():
            agent.stop()
        for sim in self.buttons.values():
            sim.stop()
        for board in self.boards.values():
            board.stop()
        if self._sink_started:
            self.sink.stop()
            self._sink_started = False
        if self._stack is not None:
            self._stack.stop()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def add_home(self, *, resident: str, address: str, site: str = "town",
                 button: int | None = None, heartbeat_s: float = 5.0,
                 bed_seed: int | None = None) -> HomeSpec:
        """Add the next home (`home-001`, …) with a simulated call-button receiver, its button
        paired, and with `bed_seed` a simulated bed board; start the devices and return it."""
        home_id = f"home-{len(self.homes) + 1:03d}"
        folder = self.root / "devices" / home_id
        sim = CallButtonSim(folder, heartbeat_s=heartbeat_s,
                            buttons=None if button is None else [button])
        self.buttons[home_id] = sim.start()
        devices: list[dict[str, Any]] = [
            {"type": "call_button", "id": "bedside-button", "port": str(sim.path),
             "buttons": list(sim.buttons)},
        ]
        if bed_seed is not None:
            board = bed_sim(folder, seed=bed_seed)
            self.boards[home_id] = board.start()
            devices.append({"type": "bed_sensor", "id": "bed", "port": str(board.path)})
        home = HomeSpec(id=home_id, site=site, resident=resident, address=address,
                        devices=devices)
        self.homes.append(home)
        return home

    def start_hub(self, caregivers: list[CaregiverSpec] | None = None,
                  site: dict[str, Any] | None = None, **extra: Any) -> Program:
        """Write the hub's config and start the hub; wait until its API answers.

        `caregivers` replace the site's own, `site` adds settings to every site and `extra`
        adds top-level sections.
        """
        doc = hub_config(
            workdir=self.root / "hub", mqtt_port=self.mosquitto.port,
            influx_url=self.influxdb.url, api_port=int(self.api.rsplit(":", 1)[1]),
            homes=self.homes, database=self.database, secret=self.secret,
            caregivers=[CaregiverSpec(c.id, c.name, c.site, c.notify or [self.sink.url(c.id)],
                                      role=c.role) for c in caregivers or self.caregivers],
            sites=[{**s, **(site or {})} for s in self.sites])
        doc.update(extra)
        # The service's settings in hub.toml; the registry goes into the hub's database.
        registry = {key: doc.pop(key) for key in REGISTRY_KEYS if key in doc}
        path = write_toml(self.root / "hub" / "hub.toml", doc)
        registry_path = write_toml(self.root / "hub" / "registry.toml", registry)
        importer = Program("hub-import", ["hub", "import-registry", "--config", str(path),
                                          str(registry_path)], self.root / "hub" / "hub.log")
        process = importer.start().process
        assert process is not None
        if process.wait(60) != 0:
            raise RuntimeError(f"the registry import failed:\n{importer.log_tail()}")
        self.hub = Program("hub", ["hub", "run", "--config", str(path)],
                           self.root / "hub" / "hub.log").start()
        # Generous: on a busy machine the hub's imports alone can take half a minute.
        wait_http(f"{self.api}/healthz", timeout_s=120, program=self.hub)
        return self.hub

    def start_agent(self, home: HomeSpec) -> Program:
        """Enrol the home on the broker (once), write its edge config and start its agent."""
        credentials = self.mosquitto.home_credentials(home.id)
        write_secret(self.root / home.id / EDGE_PASSWORD_FILE, credentials.password)
        path = write_toml(self.root / home.id / "edge.toml", edge_config(
            home=home, mqtt_port=self.mosquitto.port, workdir=self.root / home.id,
            credentials=credentials))
        agent = Program(home.id, ["edge", "run", "--config", str(path)],
                        self.root / home.id / "edge.log").start()
        self.agents[home.id] = agent
        return agent

    def wait_online(self, timeout_s: float = 30.0) -> None:
        """Wait until the hub sees every started agent online."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = {h["id"]: h["agent"] for h in self.get("/api/homes")}
            if all(state.get(home) == "online" for home in self.agents):
                return
            if time.monotonic() > deadline:
                tails = "\n".join(f"{name}:\n{agent.log_tail()}"
                                  for name, agent in self.agents.items())
                raise TimeoutError(f"agents not online within {timeout_s} s ({state}):\n{tails}")
            time.sleep(0.1)

    def get(self, path: str) -> Any:
        """Return the hub API's JSON answer for `path`, asked as the site's administrator."""
        return self._api("GET", path, token=self.login())

    def post(self, path: str, body: dict[str, Any], person: str | None = None) -> Any:
        """POST `body` as JSON to the hub API and return the answer.

        An alert action is taken as the caregiver who acts: `person`, or the body's
        `caregiver`; anything else as the site's administrator.
        """
        who = person or body.get("caregiver")
        return self._api("POST", path, body, token=self.login(who))

    def login(self, person: str | None = None) -> str:
        """Return a bearer token of the site's administrator, or of caregiver `person`.

        There is no default user: the first call makes one with the hub's CLI, as an
        administrator would (`create-admin`, `add-user`), logs in with the one-time password
        and sets a password of its own. Tokens are renewed before they expire.
        """
        key = person or ""
        if key not in self._users:
            self._users[key] = self._new_user(person)
        username, password = self._users[key]
        token, until = self._tokens.get(key, ("", 0.0))
        if time.monotonic() < until:
            return token
        answer = self._api("POST", "/api/auth/token",
                           form={"username": username, "password": password})
        token = str(answer["access_token"])
        self._tokens[key] = (token, time.monotonic() + float(answer["expires_in"]) - 60)
        return token

    def admin_credentials(self) -> tuple[str, str]:
        """Return the user name and password of the site's administrator (made on first use)."""
        self.login()
        return self._users[""]

    def _new_user(self, person: str | None) -> tuple[str, str]:
        config = str(self.root / "hub" / "hub.toml")  # what start_hub wrote
        command = (["hub", "create-admin", "--config", config, "--username", "rig-admin"]
                   if person is None else
                   ["hub", "add-user", person, "--config", config, "--role", "caregiver",
                    "--person", person])
        made = subprocess.run([sys.executable, "-m", "bedwatch", *command], check=True,
                              capture_output=True, text=True, timeout=60)
        username = "rig-admin" if person is None else person
        one_time = made.stdout.split("one-time password: ", 1)[1].split()[0]
        first = self._api("POST", "/api/auth/token",
                          form={"username": username, "password": one_time})
        password = os.urandom(16).hex()
        self._api("POST", "/api/auth/password", {"current_password": one_time,
                                                 "new_password": password},
                  token=first["access_token"])
        return username, password

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None, *,
             form: dict[str, str] | None = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = response.read()
        return json.loads(answer) if answer else None


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


__all__ = ["CaregiverSpec", "HomeSpec", "LocalSite", "Program", "edge_config", "free_port",
           "get_json", "hub_config", "wait_http", "write_toml"]
