"""The local stack runner starts real servers, restarts them on the same port, and stops them."""

from __future__ import annotations

import json
import socket
import urllib.parse
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from rig.stack import InfluxDB, Mosquitto, StackError, find_binary


def _roundtrip(port: int, topic: str, payload: bytes) -> bytes:
    got: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, msg: got.append(msg.payload)
    sub.connect("127.0.0.1", port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        import time

        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            pub.publish(topic, payload, qos=1).wait_for_publish(2)
            time.sleep(0.1)
        pub.loop_stop()
        pub.disconnect()
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert got, "no message came back through the broker"
    return got[0]


def test_mosquitto_delivers_and_restarts_on_same_port(mosquitto: Mosquitto) -> None:
    assert _roundtrip(mosquitto.port, "t/1", b"hello") == b"hello"
    port = mosquitto.port
    mosquitto.restart()
    assert mosquitto.port == port
    assert _roundtrip(mosquitto.port, "t/2", b"again") == b"again"


def test_mosquitto_stop_frees_the_port(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path).start()
    pid = broker.process.pid if broker.process else 0
    broker.stop()
    assert not broker.running
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", broker.port)) != 0


def test_influxdb_answers_influxql(influxdb: InfluxDB) -> None:
    def query(q: str) -> dict:
        data = urllib.parse.urlencode({"q": q}).encode()
        with urllib.request.urlopen(f"{influxdb.url}/query", data=data, timeout=5) as response:
            return json.loads(response.read())

    query("CREATE DATABASE stack_test")
    body = b"probe,home=h1 value=42i 1700000000000000000"
    req = urllib.request.Request(f"{influxdb.url}/write?db=stack_test", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as response:
        assert response.status == 204
    result = query("SELECT value FROM stack_test..probe")
    values = result["results"][0]["series"][0]["values"]
    assert values[0][1] == 42


def test_missing_binary_says_how_to_install() -> None:
    with pytest.raises(StackError, match="apt-get install"):
        find_binary("definitely-not-a-server-binary")
