"""The homes' side of the bench: broker users, backlogs published, probes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from bedwatch import wire
from hub.broker import BrokerCredentials, enrol_home
from rig.stack import InfluxDB, Mosquitto

from .data import (
    COUNTED_FIELD,
    PROBE_KIND,
    PUBLISHERS,
    home_ids,
    home_payloads,
    influx_count,
)
from .procs import written_mb


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



def enrol_homes(broker: Mosquitto, homes: int) -> dict[str, BrokerCredentials]:
    with broker.admin_session() as admin:
        return {home: enrol_home(admin, home) for home in home_ids(homes)}
