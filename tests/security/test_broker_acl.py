"""Broker identity against a real Mosquitto with the dynamic-security plugin: each home speaks
only as itself, only the hub reads every home, and client ids cannot be taken."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiomqtt
import pytest

from bedwatch import wire
from hub.broker import BrokerCredentials
from hub.config import MqttSection
from hub.ingest import Ingest
from rig.sink import NotificationSink
from rig.stack import Mosquitto
from tests.livehub import T, connect, event_payload, publish, until

if TYPE_CHECKING:
    from hub.service import Hub

Received = list[tuple[str, wire.Channel, wire.Message]]


@contextlib.asynccontextmanager
async def hub_ingest(broker: Mosquitto, client_id: str = "bedwatch-hub", *,
                     port: int | None = None, **mqtt: Any
                     ) -> AsyncIterator[tuple[Ingest, Received]]:
    """Run the hub's real ingest (both lanes, as the hub's broker users) and record what it
    accepts."""
    credentials = broker.hub_credentials(client_id)
    received: Received = []

    async def handler(home: str, channel: wire.Channel, _device: str | None,
                      message: wire.Message) -> None:
        received.append((home, channel, message))

    config = MqttSection(port=port or broker.port, client_id=client_id,
                         password=credentials.password, **mqtt)
    ingest = Ingest(config, handler)
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    try:
        await until(lambda: ingest.connected)
        yield ingest, received
    finally:
        stop.set()
        await task


def _status(agent: str, state: str = "online") -> bytes:
    return wire.encode(wire.AgentStatus(agent=agent, state=state, t=T))


def _reading(agent: str) -> bytes:
    return wire.encode(wire.ReadingBatch(agent=agent, seq=1, readings=[
        wire.Reading(device="bed", kind="vitals", t=T, fields={"heart_rate_bpm": 61.0})]))


async def _refused(broker: Mosquitto, credentials: BrokerCredentials | None = None, *,
                   client_id: str = "intruder", username: str | None = None,
                   password: str | None = None) -> str:
    """Try to connect; return the broker's refusal (the test fails if it lets the client in)."""
    if credentials is not None:
        username, password = credentials.username, credentials.password
    client = aiomqtt.Client("127.0.0.1", broker.port, identifier=client_id, username=username,
                            password=password, timeout=5)
    with pytest.raises(aiomqtt.MqttError) as info:
        async with client:
            pass
    return str(info.value)


async def test_a_home_cannot_publish_on_another_homes_topics(mosquitto: Mosquitto) -> None:
    a = mosquitto.enrol("home-a")
    mosquitto.enrol("home-b")
    async with hub_ingest(mosquitto) as (ingest, received), connect(mosquitto, a) as client:
        forged = [
            (wire.events_topic("home-b"), event_payload("call")),  # a call for another home
            (wire.readings_topic("home-b"), _reading("home-b")),  # a BP reading
            (wire.status_topic("home-b"), _status("home-b", "offline")),  # retained offline
            (wire.device_status_topic("home-b", "bed"), b"{}"),
            (wire.cmd_topic("home-b"), b"{}"),  # a command to another home
            (wire.cmd_topic("home-a"), b"{}"),  # commands come from the hub only
            (wire.receipts_topic("home-a"), b"{}"),  # and so do receipts
            ("bw/v1/home-b/anything", b"x"),
        ]
        for topic, payload in forged:
            await client.publish(topic, payload, qos=1, retain=topic.endswith("/status"))
        # Its own call, sent last, arrives: everything before it was dropped by the broker.
        await client.publish(wire.events_topic("home-a"), event_payload("call"), qos=1)
        await until(lambda: len(received) >= 1)
        await asyncio.sleep(0.3)
    assert [(home, channel) for home, channel, _ in received] == [("home-a", "events")]
    assert ingest.counters["received"] == 1
    # Nothing was retained for home-b either: a new hub session sees no status of it.
    async with hub_ingest(mosquitto, "hub-second") as (_, later):
        await asyncio.sleep(0.3)
    assert later == []


async def test_a_home_cannot_leave_a_will_on_another_homes_status(
        mosquitto: Mosquitto) -> None:
    """The last will is a publish too: one on another home's topic is dropped; its own comes."""
    a = mosquitto.enrol("home-a")
    async with hub_ingest(mosquitto) as (_, received):
        for home in ("home-b", "home-a"):
            will = aiomqtt.Will(wire.status_topic(home), _status(home, "offline"), qos=1,
                                retain=True)
            client = connect(mosquitto, a, will=will)
            await client.__aenter__()
            # The connection is lost without a DISCONNECT: the broker sends the will.
            sock = client._client.socket()
            assert isinstance(sock, socket.socket)
            sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
            await asyncio.sleep(1.0)
    assert [(home, channel) for home, channel, _ in received] == [("home-a", "status")]


async def test_a_home_cannot_read_another_homes_topics(mosquitto: Mosquitto) -> None:
    a, b = mosquitto.enrol("home-a"), mosquitto.enrol("home-b")
    got: list[str] = []
    async with hub_ingest(mosquitto) as (_, received), connect(mosquitto, a) as spy, \
            connect(mosquitto, b) as home_b:
        granted = [await spy.subscribe(topic, qos=1) for topic in (
            "#", "bw/v1/#", "bw/v1/+/events", wire.receipts_topic("home-b"),
            wire.cmd_topic("home-b"), wire.events_topic("home-b"), "bw/v1/home-a/#")]
        own = await spy.subscribe(wire.receipts_topic("home-a"), qos=1)
        await home_b.subscribe(wire.receipts_topic("home-b"), qos=1)

        async def listen() -> None:
            async for message in spy.messages:
                got.append(message.topic.value)

        listener = asyncio.create_task(listen())
        await home_b.publish(wire.readings_topic("home-b"), _reading("home-b"), qos=1)
        await home_b.publish(wire.events_topic("home-b"), event_payload("call"), qos=1)
        # home-b's receipt from the hub proves the hub read and answered; home-a saw nothing.
        async with asyncio.timeout(10):
            async for message in home_b.messages:
                assert message.topic.value == wire.receipts_topic("home-b")
                break
        await until(lambda: len(received) == 2)
        await asyncio.sleep(0.3)
        listener.cancel()
    # SUBACK 0x80 (failure) for every filter beyond its own (MQTT 3.1.1, 3.9.3).
    assert all(list(codes) == [128] for codes in granted), granted
    assert list(own) == [1]
    assert got == []


async def test_anonymous_unknown_and_wrong_password_clients_are_refused(
        mosquitto: Mosquitto) -> None:
    a = mosquitto.enrol("home-a")
    assert "authori" in (await _refused(mosquitto, client_id="anon")).lower()
    await _refused(mosquitto, username="home-a", password="wrong", client_id="home-a")
    await _refused(mosquitto, username="nobody", password=a.password, client_id="nobody")
    await _refused(mosquitto, username="home-a", password=None, client_id="home-a")
    async with connect(mosquitto, a):  # the right password and id still work
        pass


async def test_a_revoked_home_is_cut_off_at_once_and_cannot_come_back(
        mosquitto: Mosquitto) -> None:
    a = mosquitto.enrol("home-a")
    async with connect(mosquitto, a) as client:
        await client.subscribe(wire.receipts_topic("home-a"), qos=1)
        assert mosquitto.revoke("home-a") is True
        with pytest.raises(aiomqtt.MqttError):
            async with asyncio.timeout(5):
                async for _ in client.messages:
                    pass
    await _refused(mosquitto, a, client_id=a.client_id)
    assert mosquitto.revoke("home-a") is False  # revoking again says there was nothing
    # Enrolling again issues new credentials; the old password stays dead.
    again = mosquitto.enrol("home-a")
    assert again.password != a.password
    await _refused(mosquitto, a, client_id=a.client_id)
    async with connect(mosquitto, again):
        pass


async def test_re_enrolment_rotates_the_password(mosquitto: Mosquitto) -> None:
    first = mosquitto.enrol("home-a")
    second = mosquitto.enrol("home-a")
    assert first.password != second.password
    await _refused(mosquitto, first, client_id="home-a")
    async with connect(mosquitto, second):
        pass


async def test_nobody_but_the_hub_can_take_the_hubs_session(mosquitto: Mosquitto) -> None:
    """The audit's scenario: with the hub down and a call queued in its persistent session,
    a client with a home's credentials (or none) tries the hub's client id."""
    a = mosquitto.enrol("home-a")
    async with hub_ingest(mosquitto):
        pass  # the hub has subscribed once: the broker keeps its sessions while it is away
    async with connect(mosquitto, a) as home:
        await home.publish(wire.events_topic("home-a"), event_payload("call", id="queued-call-1"),
                           qos=1)
    for client_id in ("bedwatch-hub", "bedwatch-hub-readings"):
        await _refused(mosquitto, a, client_id=client_id)
        await _refused(mosquitto, mosquitto.rig_credentials(), client_id=client_id)
        await _refused(mosquitto, client_id=client_id)
        await _refused(mosquitto, username=client_id, password=a.password, client_id=client_id)
    # The hub comes back and gets the call nobody could take.
    async with hub_ingest(mosquitto) as (ingest, received):
        await until(lambda: received)
        assert [m.id for _, _, m in received if isinstance(m, wire.Event)] == ["queued-call-1"]
        # And trying the hub's id while the hub runs does not knock it off.
        failures = ingest.links["control"].failures
        await _refused(mosquitto, a, client_id="bedwatch-hub")
        await asyncio.sleep(0.3)
        assert ingest.connected and ingest.links["control"].failures == failures
        async with connect(mosquitto, a) as home:
            await home.publish(wire.events_topic("home-a"), event_payload("call"), qos=1)
        await until(lambda: len(received) == 2)


async def test_a_homes_client_id_cannot_be_used_by_another_home(mosquitto: Mosquitto) -> None:
    a, b = mosquitto.enrol("home-a"), mosquitto.enrol("home-b")
    async with connect(mosquitto, a) as client:
        await _refused(mosquitto, b, client_id=a.client_id)
        await client.publish(wire.status_topic("home-a"), _status("home-a"), qos=1)  # still on
    # A home's user name with another home's password fails too.
    await _refused(mosquitto, username="home-a", password=b.password, client_id="home-b")


async def test_the_hub_receives_everything_the_homes_send_and_answers_them(
        mosquitto: Mosquitto) -> None:
    homes = {name: mosquitto.enrol(name) for name in ("home-a", "home-b")}
    async with hub_ingest(mosquitto) as (ingest, received):
        for name, credentials in homes.items():
            async with connect(mosquitto, credentials) as home:
                await home.subscribe(wire.receipts_topic(name), qos=1)
                event = event_payload("call", id=f"call-of-{name}")
                for topic, payload in (
                        (wire.readings_topic(name), _reading(name)),
                        (wire.status_topic(name), _status(name)),
                        (wire.device_status_topic(name, "bed"), wire.encode(wire.DeviceStatus(
                            device="bed", t=T, connected=True))),
                        (wire.cmd_ack_topic(name), json.dumps(
                            {"v": 1, "id": "cmd-0001", "t": T, "ok": True}).encode()),
                        (wire.events_topic(name), event)):
                    await home.publish(topic, payload, qos=1)
                async with asyncio.timeout(10):
                    async for message in home.messages:
                        receipt = wire.decode(message.topic.value, message.payload)[3]
                        assert isinstance(receipt, wire.Receipt)
                        assert receipt.ids == [f"call-of-{name}"]
                        break
        await until(lambda: len(received) == 10)
    by_home = {name: sorted(str(channel) for home, channel, _ in received if home == name)
               for name in homes}
    expected = sorted(["readings", "status", "device_status", "cmd_ack", "events"])
    assert by_home == {"home-a": expected, "home-b": expected}
    assert ingest.rejected == {}


async def test_a_status_naming_another_home_is_refused_and_counted(
        mosquitto: Mosquitto) -> None:
    a = mosquitto.enrol("home-a")
    async with hub_ingest(mosquitto) as (ingest, received), connect(mosquitto, a) as home:
        # On its own topic (the broker allows it) but claiming to be home-b.
        await home.publish(wire.status_topic("home-a"), _status("home-b", "offline"), qos=1)
        await home.publish(wire.readings_topic("home-a"), _reading("home-b"), qos=1)
        await until(lambda: ingest.counters["received"] == 2)
    assert received == []
    assert ingest.rejected == {"schema": 2}


def test_every_user_the_project_creates_is_bound_to_a_client_id(mosquitto: Mosquitto) -> None:
    mosquitto.hub_credentials()
    mosquitto.enrol("home-a")
    mosquitto.rig_credentials()
    with mosquitto.admin_session() as admin:
        listing = admin.run({"command": "listClients", "verbose": True, "count": -1,
                             "offset": 0})[0]["clients"]
        default = admin.run({"command": "getDefaultACLAccess"})[0]["acls"]
    assert {c["username"]: c.get("clientid") for c in listing} == {
        "admin": "bedwatch-admin", "bedwatch-hub": "bedwatch-hub",
        "bedwatch-hub-readings": "bedwatch-hub-readings", "home-a": "home-a",
        Mosquitto.rig_username: Mosquitto.rig_username}
    assert all(entry["allow"] is False for entry in default)


async def test_a_live_hub_gets_what_homes_send_and_refuses_a_forged_status(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Through the whole hub (its own broker users): a reading, a status and a call from the
    home are stored and paged; another home's status sent on home-1's topic is refused."""
    hub, sink = live_hub
    await publish(mosquitto, (wire.readings_topic("home-1"), _reading("home-1")),
                  (wire.status_topic("home-1"), _status("home-1")),
                  (wire.status_topic("home-1"), _status("home-2", "offline")),
                  (wire.events_topic("home-1"), event_payload("call", id="call-live-0001")))
    await until(lambda: hub.ingest.counters["received"] == 4 and
                hub.writer.counters["written"] >= 1)
    assert await sink.wait_for_async(lambda n: "home-1" in n.text)
    from hub.db import EventRecord

    with hub.sessions() as session:
        assert session.get(EventRecord, ("home-1", "call-live-0001")) is not None
    assert hub.ingest.counters["accepted"] == 3
    assert dict(hub.ingest.rejected) == {"schema": 1}
