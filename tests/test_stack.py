"""The local stack runner starts real servers, restarts them on the same port, and stops them."""

from __future__ import annotations

import json
import socket
import stat
import time
import urllib.parse
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hub.broker import BrokerCredentials
from rig.stack import HomeMosquitto, InfluxDB, Mosquitto, StackError, find_binary


def _client(credentials: BrokerCredentials | None) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                         client_id=credentials.client_id if credentials else "anonymous")
    if credentials is not None:
        client.username_pw_set(credentials.username, credentials.password)
    return client


def _roundtrip(broker: Mosquitto, topic: str, payload: bytes) -> bytes:
    """Publish as the home in `topic`, receive as the hub; return what came back."""
    got: list[bytes] = []
    sub = _client(broker.hub_credentials())
    sub.on_message = lambda _c, _u, msg: got.append(bytes(msg.payload))
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    try:
        pub = _client(broker.home_credentials(topic.split("/")[2]))
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
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


def _connack(broker: Mosquitto, credentials: BrokerCredentials | None) -> str:
    codes: list[str] = []
    client = _client(credentials)
    client.on_connect = lambda _c, _u, _f, reason, _p: codes.append(str(reason))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    deadline = time.monotonic() + 5
    while not codes and time.monotonic() < deadline:
        time.sleep(0.02)
    client.loop_stop()
    client.disconnect()
    return codes[0] if codes else "no answer"


def test_mosquitto_delivers_and_restarts_on_same_port(mosquitto: Mosquitto) -> None:
    assert _roundtrip(mosquitto, "bw/v1/h1/events", b"hello") == b"hello"
    port = mosquitto.port
    mosquitto.restart()
    assert mosquitto.port == port
    # The identities live in the plugin's file in the workdir: they survive the restart.
    assert _roundtrip(mosquitto, "bw/v1/h1/events", b"again") == b"again"


def test_mosquitto_admits_no_anonymous_client_and_keeps_its_admin_secret(
        mosquitto: Mosquitto) -> None:
    assert _connack(mosquitto, None) == "Not authorized"
    assert _connack(mosquitto, mosquitto.admin) == "Success"
    for secret in (mosquitto.admin_password_file, mosquitto.dynsec_path):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    conf = mosquitto.config_path.read_text()
    assert "allow_anonymous false" in conf and f"plugin {mosquitto.plugin}" in conf


def test_the_homes_zigbee_broker_is_anonymous_on_loopback(
        home_mosquitto: HomeMosquitto) -> None:
    assert _connack(home_mosquitto, None) == "Success"
    assert f"listener {home_mosquitto.port} 127.0.0.1" in home_mosquitto.config_path.read_text()


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
