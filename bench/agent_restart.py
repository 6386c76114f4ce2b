"""How long a call-button press can go unseen while the edge agent restarts.

Times, against a real Mosquitto and a simulated receiver on a pty:

- start → first publish: from starting the agent process to the broker delivering a call
  that was already queued in its outbox (imports, config, outbox open, drivers, connect);
- SIGTERM → exit: from the signal to the process being gone (drivers closed, offline status).

Both entry points are measured: `bedwatch edge run` (the CLI) and `python -m edge` (the lean
one). The baseline, in the same run, is a bare `python -c "import edge"` process start: what
any Python agent pays at least. A `python -c "import edge.agent"` row shows what imports cost.

    python bench/agent_restart.py [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from rich.console import Console
from rich.table import Table

from bedwatch import wire
from edge.outbox import Outbox, Priority
from firmware_sim.call_button import CallButtonSim
from hub.enrolment import write_secret
from rig.site import write_toml
from rig.stack import Mosquitto

HOME = "bench-1"


class Watcher:
    """Subscribe to the home's events; remember when each event id first arrived."""

    def __init__(self, broker: Mosquitto) -> None:
        self.arrived: dict[str, float] = {}
        self._cond = threading.Condition()
        credentials = broker.hub_credentials("bench-watch")  # reads as a hub does
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=credentials.client_id)
        self.client.username_pw_set(credentials.username, credentials.password)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe(wire.events_topic(HOME), qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        event_id = json.loads(message.payload)["id"]
        with self._cond:
            self.arrived.setdefault(event_id, now)
            self._cond.notify_all()

    def wait(self, event_id: str, timeout: float = 30.0) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: event_id in self.arrived, timeout):
                raise TimeoutError(f"event {event_id} never arrived")
            return self.arrived[event_id]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _process_start(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def _queue_call(outbox: Path) -> str:
    event_id = wire.new_event_id()
    box = Outbox(outbox)
    box.put(wire.events_topic(HOME), lambda seq: wire.encode(wire.Event(
        id=event_id, seq=seq, t=time.time(), device="btn", kind="call",
        severity=wire.Severity.CRITICAL, data={"button": 100})), Priority.LIFE_SAFETY,
        event_id=event_id)
    box.close()
    return event_id


def _restart(command: list[str], folder: Path, broker: Mosquitto, sim: CallButtonSim,
             watcher: Watcher) -> tuple[float, float]:
    folder.mkdir(parents=True)
    outbox = folder / "outbox.sqlite"
    home = broker.home_credentials(HOME)
    write_secret(folder / "mqtt-password", home.password)
    config = write_toml(folder / "edge.toml", {
        "home": HOME, "mqtt": {"host": "127.0.0.1", "port": broker.port,
                               "username": home.username, "client_id": home.client_id,
                               "password_file": "mqtt-password"},
        "outbox": {"path": str(outbox)},
        "devices": [{"type": "call_button", "id": "btn", "port": str(sim.path),
                     "buttons": [100]}]})
    event_id = _queue_call(outbox)
    with open(folder / "edge.log", "wb") as log:
        t0 = time.perf_counter()
        process = subprocess.Popen([*command, "--config", str(config)],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            started = watcher.wait(event_id) - t0
            time.sleep(0.3)  # let the drivers settle, as a running agent would be
            t1 = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            process.wait(30)
            stopped = time.perf_counter() - t1
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"agent exited with {process.returncode}; see {folder / 'edge.log'}")
    return started, stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Restarts per entry point.")
    parser.add_argument("--json", type=Path, help="Write the figures to this file.")
    args = parser.parse_args()

    entry_points = {
        "bedwatch edge run": [sys.executable, "-m", "bedwatch", "edge", "run"],
        "python -m edge": [sys.executable, "-m", "edge"],
    }
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bw-restart-") as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "mosquitto").start()
        sim = CallButtonSim(root / "devices", heartbeat_s=1.0, buttons=[100]).start()
        watcher = Watcher(broker)
        try:
            for name, code in (("baseline: python -c 'import edge'", "import edge"),
                               ("imports: python -c 'import edge.agent'", "import edge.agent")):
                times = [_process_start(code) for _ in range(args.runs)]
                figures[name] = {"median_s": statistics.median(times), "min_s": min(times)}
            for name, command in entry_points.items():
                starts, stops = [], []
                for run in range(args.runs):
                    started, stopped = _restart(command, root / f"{name[:8]}-{run}".replace(
                        " ", "_"), broker, sim, watcher)
                    starts.append(started)
                    stops.append(stopped)
                figures[f"{name}: start → first publish"] = {
                    "median_s": statistics.median(starts), "min_s": min(starts)}
                figures[f"{name}: SIGTERM → exit"] = {
                    "median_s": statistics.median(stops), "min_s": min(stops)}
        finally:
            watcher.close()
            sim.stop()
            broker.stop()

    baseline = figures["baseline: python -c 'import edge'"]["median_s"]
    table = Table(title=f"Edge agent restart ({args.runs} runs each, real Mosquitto)")
    for column in ("what", "median ms", "min ms", "× baseline"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for name, row in figures.items():
        row["ratio_to_baseline"] = row["median_s"] / baseline
        table.add_row(name, f"{row['median_s'] * 1000:.0f}", f"{row['min_s'] * 1000:.0f}",
                      f"{row['ratio_to_baseline']:.1f}")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
