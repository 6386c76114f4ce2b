"""The hub against a real Mosquitto and a real InfluxDB: bad input, readings, events, pages."""

from __future__ import annotations

import json

from sqlalchemy import select

from bedwatch import wire
from hub.db import Alert, EventRecord
from hub.service import Hub
from rig.sink import NotificationSink
from rig.stack import Mosquitto
from tests.livehub import T
from tests.livehub import event_payload as _event
from tests.livehub import publish as _publish
from tests.livehub import until as _until


async def test_malformed_messages_are_counted_by_reason_and_do_not_stop_the_hub(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    hub, sink = live_hub
    await _publish(
        mosquitto.port,
        ("bw/v1/home-1/events", b"{garbage"),
        ("bw/v1/home-1/events", _event(v=9)),
        ("bw/v1/home-1/events", b"{" + b" " * wire.MAX_PAYLOAD_BYTES + b"}"),
        ("bw/v1/home-1/events", _event(severity="apocalyptic")),
        ("bw/v1/home-1/readings", json.dumps({"v": 1, "agent": "home-1", "seq": 1,
                                              "readings": []}).encode()),
        ("bw/v1/home-1/events", _event("call")),  # a good one after all that
    )
    # Two lanes: the readings message may be handled after the call; wait for all six.
    await _until(lambda: hub.ingest.counters["received"] >= 6)
    assert dict(hub.ingest.rejected) == {"json": 1, "version": 1, "size": 1, "schema": 2}
    notes = await sink.wait_for_async(lambda n: "home-1" in n.text)
    assert notes, "the valid call after the garbage was not paged"


async def test_readings_are_queryable_with_influxql(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    hub, _ = live_hub
    batch = wire.ReadingBatch(agent="home-1", seq=3, readings=[
        wire.Reading(device="bed", kind="vitals", t=T + i, fields={"heart_rate_bpm": 60 + i,
                                                                    "quality": 0.9})
        for i in range(5)])
    await _publish(mosquitto.port, (wire.readings_topic("home-1"), wire.encode(batch)))
    await _until(lambda: hub.writer.counters["written"] >= 5)
    series = await hub.writer.query(
        "SELECT mean(heart_rate_bpm) AS hr, count(heart_rate_bpm) AS n FROM vitals "
        "WHERE home = 'home-1' AND device = 'bed'")
    assert series[0]["values"][0][1:] == [62.0, 5]


async def test_duplicate_event_is_stored_once_and_pages_nobody_again(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    hub, sink = live_hub
    payload = _event("fall", id="fall-0001-abcdef")
    await _publish(mosquitto.port, (wire.events_topic("home-1"), payload),
                   (wire.events_topic("home-1"), payload))
    await _until(lambda: hub.ingest.counters["accepted"] >= 2)
    assert hub.duplicates == 1
    pages = await sink.wait_for_async(lambda n: "Fall detected" in n.text, within_s=3, count=2)
    assert len(pages) == 1
    with hub.sessions() as session:
        assert len(session.scalars(select(EventRecord)).all()) == 1
        [alert] = session.scalars(select(Alert)).all()
        assert (alert.kind, alert.event_count) == ("fall", 1)


async def test_agent_will_opens_an_offline_alert_and_return_resolves_it(
        live_hub: tuple[Hub, NotificationSink], mosquitto: Mosquitto) -> None:
    hub, sink = live_hub
    online = wire.encode(wire.AgentStatus(agent="home-1", state="online", t=T))
    offline = wire.encode(wire.AgentStatus(agent="home-1", state="offline"))
    await _publish(mosquitto.port, (wire.status_topic("home-1"), online),
                   (wire.status_topic("home-1"), offline))
    assert await sink.wait_for_async(lambda n: "Home unit offline" in n.text)
    await _publish(mosquitto.port, (wire.status_topic("home-1"), online))
    await _until(lambda: hub.ingest.counters["accepted"] >= 3)
    with hub.sessions() as session:
        [alert] = session.scalars(select(Alert)).all()
    assert (alert.kind, alert.state, alert.resolution) == ("agent_offline", "resolved", "auto")
    assert alert.data["blind_minutes"] >= 0  # how long nobody could see this home
