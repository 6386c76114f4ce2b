"""MQTT over TLS with a throwaway CA: the edge agent's publisher and the hub's ingest verify the
broker's certificate and host name, and a call gets through; a client that does not trust the
CA, or expects another host name, is refused."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from bedwatch import wire
from edge.config import MqttConfig
from edge.outbox import Outbox, Priority
from edge.publisher import Publisher
from rig.pki import TestCA
from rig.stack import Mosquitto
from tests.livehub import T, until
from tests.security.test_broker_acl import hub_ingest


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto", tls=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_a_call_travels_from_agent_to_hub_over_tls(tmp_path: Path,
                                                         tls_broker: Mosquitto) -> None:
    assert tls_broker.tls_port is not None and tls_broker.ca_file is not None
    home = tls_broker.enrol("home-a")
    box = Outbox(tmp_path / "outbox.sqlite")
    box.put(wire.events_topic("home-a"), wire.encode(wire.Event(
        id="call-over-tls", seq=1, t=T, device="btn", kind="call", severity="critical")),
        Priority.LIFE_SAFETY, event_id="call-over-tls")
    config = MqttConfig(host="127.0.0.1", port=tls_broker.tls_port, username=home.username,
                        password=home.password, client_id=home.client_id, tls=True,
                        ca_file=tls_broker.ca_file)
    publisher = Publisher("home-a", config, box, online_status=lambda: wire.encode(
        wire.AgentStatus(agent="home-a", state="online", t=T)))
    stop = asyncio.Event()
    async with hub_ingest(tls_broker, port=tls_broker.tls_port, tls=True,
                          ca_file=tls_broker.ca_file) as (_, received):
        task = asyncio.create_task(publisher.run(stop))
        try:
            # The hub stored it and its receipt came back over TLS: the outbox is empty.
            await until(lambda: box.depth() == 0 and box.awaiting_receipt() == 0)
        finally:
            stop.set()
            await task
    events = [m for _, _, m in received if isinstance(m, wire.Event)]
    assert [e.id for e in events] == ["call-over-tls"]
    assert publisher.counters["receipt_ids_confirmed"] == 1


async def _tls_connect(broker: Mosquitto, context: ssl.SSLContext,
                       host: str = "127.0.0.1") -> None:
    home = broker.home_credentials("home-a")
    assert broker.tls_port is not None
    async with aiomqtt.Client(host, broker.tls_port, identifier=home.client_id,
                              username=home.username, password=home.password,
                              tls_context=context, timeout=5):
        pass


async def test_a_client_that_does_not_trust_the_ca_is_refused(tmp_path: Path,
                                                              tls_broker: Mosquitto) -> None:
    # The system's CAs do not include the throwaway one, nor does another organisation's.
    with pytest.raises(aiomqtt.MqttError, match="certificate verify failed"):
        await _tls_connect(tls_broker, ssl.create_default_context())
    stranger = TestCA(tmp_path / "other-ca")
    with pytest.raises(aiomqtt.MqttError, match="certificate verify failed"):
        await _tls_connect(tls_broker, ssl.create_default_context(cafile=stranger.cert_file))
    # The right CA works, by IP address and by name (both are in the certificate).
    trusted = ssl.create_default_context(cafile=tls_broker.ca_file)
    await _tls_connect(tls_broker, trusted)
    await _tls_connect(tls_broker, trusted, host="localhost")


async def test_a_certificate_for_another_host_is_refused(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto", tls=True)
    assert broker.ca is not None
    # The broker presents a certificate for another name than the one the client dials.
    broker.server_cert = broker.ca.issue_server(["broker.elsewhere.example"], stem="wrong")
    with broker:
        context = ssl.create_default_context(cafile=broker.ca_file)
        with pytest.raises(aiomqtt.MqttError, match="IP address mismatch"):
            await _tls_connect(broker, context)
