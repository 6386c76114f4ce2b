"""Nothing that arrives stalls the hub: poison messages, failing handlers, backlogs of
readings and repeated ids, each against a real Mosquitto and InfluxDB, each followed by a call
that must be paged."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from sqlalchemy import select

from bedwatch import wire
from hub.db import Alert, DeadLetter, EventRecord
from hub.service import Hub
from rig.sink import NotificationSink
from rig.stack import Mosquitto
from tests.livehub import T, connect, event_payload, publish, until

HOME = "home-1"

POISON: list[tuple[str, str, bytes]] = [
    ("JSON nested 100,000 deep", "events", b"[" * 100_000 + b"]" * 100_000),
    ("seq beyond 64 bits", "events", event_payload(seq=2**64)),
    ("outbox_depth beyond 64 bits", "status",
     json.dumps({"v": 1, "agent": HOME, "state": "online", "t": T,
                 "outbox_depth": 2**70}).encode()),
    ("1e400 in a reading field", "readings",
     b'{"v": 1, "agent": "home-1", "seq": 1, "readings": [{"device": "bed", "kind": "vitals",'
     b' "t": 1764000000.0, "fields": {"hr": ' + b"1" + b"0" * 400 + b".0}}]}"),
    ("a device status error key that is no field name", "devices/bed/status",
     json.dumps({"v": 1, "device": "bed", "t": T, "connected": True,
                 "errors": {"not a field!": 1}}).encode()),
    ("a 5000-digit integer", "events",
     event_payload().replace(b'"seq": 1', b'"seq": ' + b"7" * 5000)),
    ("invalid UTF-8", "events", b'{"v": 1, "id": "\xff\xfe"}'),
]


async def test_each_poison_message_is_rejected_and_the_next_call_is_paged(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Proves: no message stalls ingest; every one is a counted rejection and a call follows."""
    hub, sink = live_hub
    paged = 0
    for i, (what, channel, payload) in enumerate(POISON):
        call_id = f"call-after-poison-{i:02d}"
        await publish(mosquitto, (f"bw/v1/{HOME}/{channel}", payload),
                      (wire.events_topic(HOME), event_payload(id=call_id)))
        await until(lambda i=i: hub.ingest.counters["received"] >= 2 * (i + 1))
        with hub.sessions() as session:
            stored = session.get(EventRecord, (HOME, call_id))
        assert stored is not None, f"the call after {what!r} was not stored"
        paged += 1
    pages = await sink.wait_for_async(lambda n: HOME in n.text)
    rejected = sum(hub.ingest.rejected.values())
    print(f"poison sent={len(POISON)} rejected={rejected} calls sent={len(POISON)} "
          f"stored={paged} paged={len(pages) >= 1} "
          f"dead_letters={hub.ingest.counters['dead_letters']}")
    assert rejected == len(POISON)
    assert pages, "no page for the calls"
    assert hub.ingest.counters["handler_errors"] == 0


async def test_a_message_the_handler_cannot_store_goes_to_the_dead_letter_store(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Proves: a handler that keeps failing costs one dead letter, not the lane."""
    hub, sink = live_hub
    real_handler = hub.ingest.handler

    async def flaky(home: str, channel: wire.Channel, device: str | None,
                    message: wire.Message) -> None:
        if isinstance(message, wire.Event) and message.device == "poison":
            raise RuntimeError("this device's events cannot be stored")
        await real_handler(home, channel, device, message)

    hub.ingest.handler = flaky
    hub.ingest.retry_base_s = 0.01
    poison = event_payload("fall", device="poison", id="poison-0000-0001")
    await publish(mosquitto, (wire.events_topic(HOME), poison),
                  (wire.events_topic(HOME), event_payload(id="call-after-dead-letter")))
    await until(lambda: hub.ingest.counters["dead_letters"] == 1)
    await until(lambda: hub.ingest.counters["accepted"] >= 1)
    assert await sink.wait_for_async(lambda n: HOME in n.text)
    with hub.sessions() as session:
        [letter] = session.scalars(select(DeadLetter)).all()
    print(f"dead letters={hub.ingest.counters['dead_letters']} "
          f"handler errors={hub.ingest.counters['handler_errors']}")
    assert letter.topic == wire.events_topic(HOME)
    assert letter.payload == poison
    assert letter.home == HOME
    assert letter.attempts == hub.ingest.max_attempts
    assert "cannot be stored" in letter.error
    assert hub.ingest.counters["handler_errors"] == hub.ingest.max_attempts


async def test_a_call_behind_a_backlog_of_readings_is_paged_before_the_backlog_drains(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Proves: events have their own lane; readings queued ahead of a call do not delay it."""
    hub, sink = live_hub
    backlog = 10_000
    batch = wire.encode(wire.ReadingBatch(agent=HOME, seq=0, readings=[
        wire.Reading(device="bed", kind="vitals", t=T, fields={"heart_rate_bpm": 60})]))
    async with connect(mosquitto, mosquitto.home_credentials(HOME),
                       max_inflight_messages=1000) as client:
        for start in range(0, backlog, 1000):
            await asyncio.gather(*(client.publish(wire.readings_topic(HOME), batch, qos=1)
                                   for _ in range(start, start + 1000)))
        sent_at = time.monotonic()
        await client.publish(wire.events_topic(HOME), event_payload(id="call-behind-backlog"),
                             qos=1)
    pages = await sink.wait_for_async(lambda n: HOME in n.text)
    latency = time.monotonic() - sent_at
    readings_done = hub.ingest.counters["readings_received"]
    print(f"readings queued={backlog} handled when the page arrived={readings_done} "
          f"call->page={latency * 1000:.0f} ms")
    assert pages
    assert readings_done < backlog, "the backlog was gone before the call: nothing was proven"


async def test_a_call_behind_a_burst_of_statuses_is_handled_before_the_burst(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Proves: the control lane hands events out before the statuses queued ahead of them (a
    street's homes reconnecting together), and every status is still handled, once."""
    hub, sink = live_hub
    burst = 3000
    statuses = [json.dumps({"v": 1, "agent": HOME, "state": "online", "t": T + n,
                            "uptime_s": n}).encode() for n in range(burst)]
    async with connect(mosquitto, mosquitto.home_credentials(HOME),
                       max_inflight_messages=1000) as client:
        for start in range(0, burst, 1000):
            await asyncio.gather(*(client.publish(wire.status_topic(HOME), payload, qos=1)
                                   for payload in statuses[start:start + 1000]))
        await client.publish(wire.events_topic(HOME), event_payload(id="call-behind-burst"),
                             qos=1)
    await sink.wait_for_async(lambda n: HOME in n.text)
    handled_first = hub.ingest.counters["control_received"]
    await until(lambda: hub.ingest.counters["control_received"] >= burst + 1, timeout=60)
    print(f"statuses queued={burst}, control messages handled when the call was paged="
          f"{handled_first}, in all={hub.ingest.counters['control_received']}")
    assert handled_first < burst, "the burst was gone before the call: nothing was proven"
    assert hub.ingest.counters["control_received"] == burst + 1
    assert hub.ingest.counters["accepted"] == burst + 1 and not hub.ingest.rejected
    with hub.sessions() as session:
        assert session.get(EventRecord, (HOME, "call-behind-burst")) is not None


async def test_the_same_event_id_from_two_homes_is_two_events(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Proves: dedup is by (home, event id), so one home's id cannot hide another's call."""
    hub, _ = live_hub
    same = "same-id-0000-0001"
    await publish(mosquitto, (wire.events_topic(HOME), event_payload(id=same)),
                  (wire.events_topic("home-2"), event_payload(id=same)),
                  (wire.events_topic(HOME), event_payload(id=same)))
    await until(lambda: hub.ingest.counters["accepted"] >= 3)
    with hub.sessions() as session:
        homes = sorted(r.home for r in session.scalars(select(EventRecord)))
        alerts = sorted(a.home for a in session.scalars(select(Alert).where(Alert.kind == "call")))
    print(f"sent=3 stored={len(homes)} duplicates={hub.duplicates}")
    assert homes == ["home-1", "home-2"]
    assert alerts == ["home-1", "home-2"]
    assert hub.duplicates == 1


async def test_every_stored_event_and_every_copy_gets_a_receipt(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Proves: the hub confirms what it stored, again for a re-sent copy, and only then."""
    hub, _ = live_hub
    receipts: list[wire.Receipt] = []
    event_id = uuid.uuid4().hex
    async with connect(mosquitto, mosquitto.home_credentials(HOME)) as agent:
        await agent.subscribe(wire.receipts_topic(HOME), qos=1)
        for _ in range(2):
            await agent.publish(wire.events_topic(HOME), event_payload(id=event_id), qos=1)
        await agent.publish(wire.events_topic(HOME), b"{not json", qos=1)
        async with asyncio.timeout(10):
            async for message in agent.messages:
                _, _, _, receipt = wire.decode(message.topic.value, bytes(message.payload))
                assert isinstance(receipt, wire.Receipt)
                receipts.append(receipt)
                if len(receipts) == 2:
                    break
    await until(lambda: hub.ingest.counters["received"] >= 3)
    print(f"events sent=2 (one copy) receipts={len(receipts)} rejected={hub.ingest.rejected}")
    assert [r.ids for r in receipts] == [[event_id], [event_id]]
    assert hub.ingest.counters["receipts"] == 2
    with hub.sessions() as session:
        assert session.get(EventRecord, (HOME, event_id)) is not None


async def test_a_call_stamped_in_1970_is_paged_by_the_hubs_clock(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Proves: a wrong edge clock flags the event but never drops or delays its page."""
    hub, sink = live_hub
    before = time.time()
    await publish(mosquitto, (wire.events_topic(HOME),
                                   event_payload(id="call-from-1970", t=12.0)))
    assert await sink.wait_for_async(lambda n: HOME in n.text)
    with hub.sessions() as session:
        record = session.get(EventRecord, (HOME, "call-from-1970"))
        [alert] = session.scalars(select(Alert).where(Alert.kind == "call")).all()
        [clock] = session.scalars(select(Alert).where(Alert.kind == "edge_clock_wrong")).all()
    assert record is not None and record.clock_untrusted and record.t == 12.0
    assert clock.home == HOME and clock.data["edge_t"] == 12.0  # the desk sees the clock
    assert alert.first_event_t >= before
    assert alert.data["edge_t"] == 12.0 and alert.data["clock_untrusted"] is True


async def test_a_call_from_a_home_nobody_registered_pages_the_desk(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    """Proves: a call from an unknown home reaches the desk, with its id, and flags the registry."""
    hub, sink = live_hub
    await publish(mosquitto, (wire.events_topic("home-404"),
                                   event_payload(id="call-from-nowhere")))
    pages = await sink.wait_for_async(lambda n: "home-404" in n.text, count=2)
    with hub.sessions() as session:
        kinds = sorted(a.kind for a in session.scalars(select(Alert).where(
            Alert.home == "home-404")))
    print(f"calls sent=1 pages about home-404={len(pages)} alerts={kinds}")
    assert kinds == ["call", "unknown_home"]
    assert pages and all("desk-1" in n.path for n in pages), \
        [n.path for n in pages]
