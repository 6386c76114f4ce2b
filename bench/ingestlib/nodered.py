"""The Node-RED 4 baseline: mqtt in → function → join → function → influxdb batch."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from bedwatch import wire
from hub.broker import HUB_ROLE, BrokerCredentials, new_password
from rig.stack import InfluxDB, Mosquitto, _die_with_parent

from .data import (
    BATCH,
    LINES_PER_WRITE,
    NODE_RED_CACHE,
    NODE_RED_PACKAGES,
    NODE_RED_USER,
    influx_query,
)
from .drains import Drain, drain
from .mqttload import publish_backlog, wait_until_storing


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
