"""How long from a call-button frame on the serial line to the page at the caregiver's sink.

Runs the real path: a simulated receiver writes the frame on a pty, the edge agent process
decodes it, commits it to its outbox and publishes it through a real Mosquitto, the hub
process stores it, opens an alert and delivers the page through apprise to a local HTTP sink.
The baseline, measured in the same run, is a bare MQTT QoS 1 round trip through the same
broker: what any design that goes through a broker pays at least. A second run presses the
button behind a backlog of single-reading messages queued for the hub just before each press
(the hub's readings lane must not delay the call: target p99 < 250 ms either way).

    python bench/alert_latency.py [--presses N] [--backlog N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from rich.console import Console
from rich.table import Table

from hub.broker import BrokerCredentials
from hub.looplag import percentile
from rig.site import LocalSite
from rig.stack import LocalStack, Mosquitto


def _client(broker: Mosquitto, credentials: BrokerCredentials) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=credentials.client_id)
    client.username_pw_set(credentials.username, credentials.password)
    client.connect("127.0.0.1", broker.port)
    return client


def mqtt_round_trips(broker: Mosquitto, count: int) -> list[float]:
    """Return QoS 1 publish→receive times in ms from a home to a hub session on `broker`."""
    from bedwatch import wire

    topic = wire.events_topic("bench-rtt")
    arrived = threading.Event()
    sub = _client(broker, broker.hub_credentials("bench-rtt-hub"))
    sub.on_message = lambda *_: arrived.set()
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    pub = _client(broker, broker.home_credentials("bench-rtt"))
    pub.loop_start()
    time.sleep(0.5)
    samples = []
    for _ in range(count):
        arrived.clear()
        start = time.perf_counter()
        pub.publish(topic, b"x" * 200, qos=1)
        if arrived.wait(5):
            samples.append((time.perf_counter() - start) * 1000)
        time.sleep(0.02)
    for client in (pub, sub):
        client.loop_stop()
        client.disconnect()
    return samples


def flood_readings(broker: Mosquitto, home: str, count: int) -> None:
    """Queue `count` single-reading messages for the hub (QoS 1) and return once sent.

    Sent by the rig's test publisher, so that the home's running agent keeps its session.
    """
    from bedwatch import wire

    batch = wire.encode(wire.ReadingBatch(agent=home, seq=0, readings=[
        wire.Reading(device="bed", kind="vitals", t=time.time(),
                     fields={"heart_rate_bpm": 60.0})]))
    credentials = broker.rig_credentials()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=credentials.client_id)
    client.username_pw_set(credentials.username, credentials.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    infos = [client.publish(wire.readings_topic(home), batch, qos=1) for _ in range(count)]
    for info in infos:
        info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def call_to_page(root: Path, stack: LocalStack, presses: int, backlog: int = 0) -> list[float]:
    """Press the call button `presses` times; return frame→page times in ms.

    With `backlog`, that many reading messages are queued for the hub before each press.
    """
    samples: list[float] = []
    with LocalSite(root, mosquitto=stack.mosquitto, influxdb=stack.influxdb) as site:
        home = site.add_home(resident="Bench Resident", address="Lab")
        sim, sink = site.buttons[home.id], site.sink
        caregiver = site.caregivers[0].id
        site.start_hub()
        site.start_agent(home)
        site.wait_online()
        for i in range(presses):
            if backlog:
                flood_readings(stack.mosquitto, home.id, backlog)
            before = len(sink.notifications)
            start = time.monotonic()
            sim.press()
            got = sink.wait_for(lambda _n: True, timeout=10, count=before + 1)
            if len(got) > before:
                samples.append((got[before].received_monotonic - start) * 1000)
            # Close the alert so the next press opens (and pages) a new one.
            for alert in site.get("/api/alerts?state=active"):
                site.post(f"/api/alerts/{alert['id']}/resolve",
                          {"caregiver": caregiver, "resolution": "test", "note": f"bench {i}"})
            time.sleep(0.05)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=100)
    parser.add_argument("--backlog", type=int, default=2000,
                        help="reading messages queued before each press of the second run "
                             "(0: skip it)")
    parser.add_argument("--backlog-presses", type=int, default=20)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bedwatch-bench-"))
    with LocalStack(root / "servers") as stack:
        baseline = mqtt_round_trips(stack.mosquitto, args.presses)
        samples = call_to_page(root / "idle", stack, args.presses)
        behind = (call_to_page(root / "backlog", stack, args.backlog_presses, args.backlog)
                  if args.backlog else [])
    if not samples or (args.backlog and not behind):
        raise SystemExit("no page arrived")
    slowest = sorted(range(len(samples)), key=samples.__getitem__)[-3:]
    print("slowest presses (index: ms):",
          ", ".join(f"{i}: {samples[i]:.1f}" for i in reversed(slowest)))
    figures = {
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2),
        "samples": len(samples),
        "lost": args.presses - len(samples),
        "baseline_mqtt_rtt_p50_ms": round(statistics.median(baseline), 2),
        "baseline_mqtt_rtt_p99_ms": round(percentile(baseline, 99), 2),
    }
    if behind:
        figures.update({
            "backlog_messages_per_press": args.backlog,
            "backlog_p50_ms": round(statistics.median(behind), 2),
            "backlog_p99_ms": round(percentile(behind, 99), 2),
            "backlog_max_ms": round(max(behind), 2),
            "backlog_samples": len(behind),
            "backlog_lost": args.backlog_presses - len(behind),
        })
    table = Table(title="call-button frame → page at the sink (this machine)")
    for column in ("path", "p50 ms", "p99 ms", "max ms", "n", "p50 × baseline"):
        table.add_column(column, justify="right" if column != "path" else "left")
    table.add_row("MQTT QoS 1 round trip (baseline)", f"{figures['baseline_mqtt_rtt_p50_ms']:.2f}",
                  f"{figures['baseline_mqtt_rtt_p99_ms']:.2f}", f"{max(baseline):.2f}",
                  str(len(baseline)), "1.0")
    table.add_row("serial frame → agent → broker → hub → apprise → sink",
                  f"{figures['p50_ms']:.2f}", f"{figures['p99_ms']:.2f}",
                  f"{figures['max_ms']:.2f}", str(len(samples)),
                  f"{figures['p50_ms'] / figures['baseline_mqtt_rtt_p50_ms']:.1f}")
    if behind:
        table.add_row(f"the same, behind {args.backlog} queued reading messages per press",
                      f"{figures['backlog_p50_ms']:.2f}", f"{figures['backlog_p99_ms']:.2f}",
                      f"{figures['backlog_max_ms']:.2f}", str(len(behind)),
                      f"{figures['backlog_p50_ms'] / figures['baseline_mqtt_rtt_p50_ms']:.1f}")
    Console().print(table)
    print("target: p99 under 250 ms (nurse-call practice, DIN VDE 0834: 5 s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["lost"] == 0 and figures.get("backlog_lost", 0) == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
