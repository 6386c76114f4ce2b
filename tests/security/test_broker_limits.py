"""A home cannot hurt the broker or the hub with one oversized message.

The broker refuses any packet beyond `max_packet_size` (rig/stack.py, docs/protocol.md) by
cutting the sender's connection: the message never reaches the hub, and the home's next call,
on a new connection, is received as usual.
"""

from __future__ import annotations

import asyncio

import aiomqtt

from bedwatch import wire
from rig.stack import MAX_PACKET_BYTES, Mosquitto
from tests.livehub import connect, event_payload, until
from tests.security.test_broker_acl import hub_ingest


async def test_an_oversized_message_cuts_its_sender_and_nothing_else(
        mosquitto: Mosquitto) -> None:
    assert MAX_PACKET_BYTES > wire.MAX_PAYLOAD_BYTES  # a valid message always fits
    home = mosquitto.home_credentials("home-big")
    async with hub_ingest(mosquitto) as (ingest, received):
        cut = False
        try:
            async with connect(mosquitto, home) as client:
                await client.publish(wire.events_topic("home-big"),
                                     b"x" * (MAX_PACKET_BYTES + 1024), qos=1, timeout=5)
                # The broker closes the connection: the next operation fails.
                for _ in range(50):
                    await client.publish(wire.events_topic("home-big"), b"{}", qos=1, timeout=2)
                    await asyncio.sleep(0.05)
        except aiomqtt.MqttError:
            cut = True
        assert cut, "the broker kept a connection that sent an oversized packet"
        async with connect(mosquitto, home) as client:
            await client.publish(wire.events_topic("home-big"), event_payload("call"), qos=1)
        await until(lambda: any(isinstance(m, wire.Event) for _, _, m in received))
        assert [m.kind for _, _, m in received if isinstance(m, wire.Event)] == ["call"]
        assert ingest.counters["received"] == len(received) + sum(ingest.rejected.values())
