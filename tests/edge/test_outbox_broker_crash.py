"""A broker SIGKILLed before it saved its store forgets what it acknowledged: the agent's
outbox sends those reading batches again on reconnect, so the hub's side gets every one.
Real Mosquitto, saving only every hour, so nothing is saved during the test."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt

from bedwatch import wire
from edge.outbox import Outbox, Priority
from edge.publisher import Publisher
from rig.stack import Mosquitto
from tests.edge.minihub import home_mqtt, until

HOME = "home-1"
BATCHES = 40


def _batch(seq: int) -> bytes:
    return wire.encode(wire.ReadingBatch(agent=HOME, seq=seq, readings=[
        wire.Reading(device="bed", kind="vitals", t=1_764_000_000.0 + seq,
                     fields={"heart_rate_bpm": 60 + seq % 20})]))


class Recorder:
    """The hub's side: a persistent session on the readings topic that records each copy."""

    def __init__(self, broker: Mosquitto) -> None:
        self.credentials = broker.hub_credentials("recorder")
        self.port = broker.port
        self.copies: list[bytes] = []

    def client(self) -> aiomqtt.Client:
        creds = self.credentials
        return aiomqtt.Client("127.0.0.1", self.port, identifier=creds.client_id,
                              username=creds.username, password=creds.password,
                              clean_session=False)

    async def subscribe_and_leave(self) -> None:
        """Open the session and go away: the broker queues the readings for it."""
        async with self.client() as client:
            await client.subscribe(wire.readings_topic(HOME), qos=1)

    async def listen(self, ready: asyncio.Event) -> None:
        async with self.client() as client:
            await client.subscribe(wire.readings_topic(HOME), qos=1)
            ready.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                self.copies.append(message.payload)


def _publisher(box: Outbox, broker: Mosquitto) -> Publisher:
    return Publisher(HOME, home_mqtt(broker, HOME), box, online_status=lambda: wire.encode(
        wire.AgentStatus(agent=HOME, state="online")))


async def _publish_until(publisher: Publisher, done: object) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        assert await until(done), "the publisher did not get there"  # type: ignore[arg-type]
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_batches_acknowledged_before_a_crash_without_save_are_sent_again(
        tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto", autosave_s=3600)
    broker.start()
    try:
        box = Outbox(tmp_path / "o.sqlite")
        recorder = Recorder(broker)
        await recorder.subscribe_and_leave()
        sent = [_batch(seq) for seq in range(BATCHES)]
        for payload in sent:
            box.put(wire.readings_topic(HOME), payload, Priority.READINGS)
        publisher = _publisher(box, broker)
        # Every batch PUBACKed and queued by the broker for the absent hub...
        await _publish_until(publisher, lambda: box.held() == BATCHES)
        assert box.depth() == 0
        broker.kill()  # ...and gone: no save since the broker started
        broker.start()
        ready = asyncio.Event()
        listener = asyncio.create_task(recorder.listen(ready))
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.sleep(0.5)
        forgotten = not recorder.copies  # the session's queue did not survive the kill
        try:
            await _publish_until(publisher, lambda: len(set(recorder.copies)) >= BATCHES)
            await asyncio.sleep(0.3)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        received = set(recorder.copies)
        print(f"batches PUBACKed before the kill {BATCHES}; the broker forgot them: "
              f"{forgotten}; re-sent {publisher.counters['resent_readings']}; "
              f"received after the restart {len(recorder.copies)} ({len(received)} distinct); "
              f"held again {box.held()}")
        assert forgotten
        assert publisher.counters["resent_readings"] == BATCHES
        assert received == set(sent)  # every batch, byte for byte
        assert box.held() == BATCHES and box.depth() == 0  # held again for the next crash
    finally:
        broker.stop()


async def test_held_batches_survive_a_restart_of_the_agent_and_are_sent_again(
        tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto", autosave_s=3600)
    broker.start()
    try:
        path = tmp_path / "o.sqlite"
        box = Outbox(path)
        recorder = Recorder(broker)
        await recorder.subscribe_and_leave()
        sent = [_batch(seq) for seq in range(BATCHES)]
        for payload in sent:
            box.put(wire.readings_topic(HOME), payload, Priority.READINGS)
        await _publish_until(_publisher(box, broker), lambda: box.held() == BATCHES)
        box.close()  # the agent stops while the broker dies
        broker.kill()
        broker.start()
        ready = asyncio.Event()
        listener = asyncio.create_task(recorder.listen(ready))
        await asyncio.wait_for(ready.wait(), 10)
        again = Outbox(path)
        publisher = _publisher(again, broker)
        try:
            await _publish_until(publisher, lambda: len(set(recorder.copies)) >= BATCHES)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        print(f"after the agent's restart: re-sent {publisher.counters['resent_readings']}, "
              f"received {len(set(recorder.copies))} of {BATCHES}")
        assert set(recorder.copies) == set(sent)
        again.close()
    finally:
        broker.stop()
