"""The control lane's queue hands events out first and still acknowledges in arrival order."""

from __future__ import annotations

import aiomqtt

from bedwatch import wire
from hub.ingest import EventsFirst
from hub.mqttlane import AckWindow


def _message(topic: str, mid: int) -> aiomqtt.Message:
    return aiomqtt.Message(topic, b"{}", qos=1, retain=False, mid=mid, properties=None)


async def test_events_leave_before_statuses_in_their_own_order_and_acks_keep_arrival() -> None:
    """Proves: with statuses queued ahead, events are taken first (in the order they came),
    then the rest in theirs; the acknowledgement window, opened in arrival order, releases
    the packet ids in the order the broker sent them, whatever the order of handling."""
    queue = EventsFirst()
    topics = [wire.status_topic("h1"), wire.status_topic("h2"), wire.events_topic("h1"),
              f"{wire.TOPIC_ROOT}/h2/devices/bed/status", wire.events_topic("h2"),
              wire.events_topic("h1")]
    for mid, topic in enumerate(topics, 1):
        queue.put_nowait(_message(topic, mid))
    assert queue.qsize() == 6 and not queue.empty()

    window = AckWindow()
    slots = {message.mid: window.open(message.mid) for message in queue.take_arrivals()}
    assert list(slots) == [1, 2, 3, 4, 5, 6]
    assert queue.take_arrivals() == []

    handled = [(await queue.get()).mid for _ in range(6)]
    assert handled == [3, 5, 6, 1, 2, 4]
    assert queue.empty() and queue.qsize() == 0

    acked: list[int] = []
    for mid in handled:  # settled as handled; released only once everything before it is
        acked += window.settle(slots[mid])
        if mid in (3, 5, 6):
            assert acked == []
    assert acked == [1, 2, 3, 4, 5, 6]
