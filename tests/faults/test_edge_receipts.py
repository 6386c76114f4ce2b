"""A PUBACK is not a delivery: an event stays on the edge until the hub's receipt names it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bedwatch import wire
from edge.outbox import Outbox, Priority
from edge.publisher import Publisher
from rig.stack import Mosquitto
from tests.edge.minihub import MiniHub, home_mqtt, until

HOME = "home-1"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _event(event_id: str, kind: str = "call") -> bytes:
    return wire.encode(wire.Event(id=event_id, seq=0, t=1_764_000_000.0, device="btn",
                                  kind=kind, severity=wire.DEFAULT_SEVERITY[kind]))


def _on_disk(path: Path) -> int:
    """Return the rows still to deliver (reading batches held after their PUBACK are not)."""
    with sqlite3.connect(path) as db:
        (n,) = db.execute("SELECT count(*) FROM outbox WHERE acked IS NULL").fetchone()
    return int(n)


async def test_events_wait_for_a_receipt_and_are_sent_again_without_one(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    clock = Clock()
    publisher = Publisher(HOME, home_mqtt(mosquitto, HOME), box,
                          online_status=lambda: wire.encode(wire.AgentStatus(agent=HOME,
                                                                             state="online")),
                          receipt_timeout_s=10.0, clock=clock)
    box.put(wire.events_topic(HOME), _event("bed-exit-0001", "bed_exit"), Priority.EVENT,
            event_id="bed-exit-0001")
    box.put(wire.events_topic(HOME), _event("call-0001"), Priority.LIFE_SAFETY,
            event_id="call-0001")
    box.put(wire.readings_topic(HOME), b"{}", Priority.READINGS)
    stop = asyncio.Event()
    async with MiniHub(mosquitto, HOME, answer=False) as hub:
        task = asyncio.create_task(publisher.run(stop))
        # (a) PUBACKed, yet both events stay; the reading is only held for re-sending.
        assert await until(lambda: len(hub.copies) == 2 and box.awaiting_receipt() == 2)
        assert [e["id"] for e in hub.copies] == ["call-0001", "bed-exit-0001"]
        assert box.depth() == 2 and _on_disk(tmp_path / "o.sqlite") == 2
        clock.t += 9.9
        publisher.wake.set()
        await asyncio.sleep(0.2)
        assert len(hub.copies) == 2  # not before the timeout
        clock.t += 0.2
        publisher.wake.set()
        assert await until(lambda: len(hub.copies) == 4)
        assert [e["id"] for e in hub.copies[2:]] == ["call-0001", "bed-exit-0001"]
        assert hub.raw["call-0001"][0] == hub.raw["call-0001"][1]  # same bytes, same id
        # The wait doubles: 10 s more is not enough for the second re-send.
        clock.t += 10.1
        publisher.wake.set()
        await asyncio.sleep(0.2)
        assert len(hub.copies) == 4
        # (b) Receipts come: the outbox empties.
        hub.answer = True
        await hub.receipt(["call-0001", "bed-exit-0001"])
        assert await until(lambda: box.depth() == 0)
        print(f"sent 2 events, copies at the hub {len(hub.copies)}, resent "
              f"{publisher.counters['resent']}, confirmed "
              f"{publisher.counters['receipt_ids_confirmed']}, left {box.depth()}")
        assert publisher.counters["resent"] == 2
        assert publisher.counters["receipt_ids_confirmed"] == 2
        assert _on_disk(tmp_path / "o.sqlite") == 0
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_garbage_and_foreign_receipts_are_counted_and_delete_nothing(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    publisher = Publisher(HOME, home_mqtt(mosquitto, HOME), box,
                          online_status=lambda: wire.encode(wire.AgentStatus(agent=HOME,
                                                                             state="online")),
                          receipt_timeout_s=3600.0)
    box.put(wire.events_topic(HOME), _event("call-0001"), Priority.LIFE_SAFETY,
            event_id="call-0001")
    # A row a receipt must never touch: another home's event (readings: tests/edge).
    box.put(wire.events_topic("home-2"), _event("call-0002"), Priority.EVENT,
            event_id="call-0002")
    stop = asyncio.Event()
    async with MiniHub(mosquitto, HOME, answer=False) as hub:
        task = asyncio.create_task(publisher.run(stop))
        assert await until(lambda: box.awaiting_receipt() == 2)
        topic = wire.receipts_topic(HOME)
        await hub.publish(topic, b"\xff not json")
        await hub.publish(topic, b'{"v": 2, "ids": ["call-0001"], "t": 1}')
        await hub.publish(topic, b'{"v": 1, "ids": [], "t": 1}')
        await hub.receipt(["unknown-0001", "call-0002", "00000001"])
        await hub.receipt(["call-0001"], home="home-2")  # not ours: never delivered to us
        assert await until(lambda: publisher.counters["receipts_rejected"] == 3
                           and publisher.counters["receipt_ids_unknown"] == 3)
        await asyncio.sleep(0.2)
        print(f"receipts rejected {publisher.counters['receipts_rejected']}, unknown ids "
              f"{publisher.counters['receipt_ids_unknown']}, confirmed "
              f"{publisher.counters['receipt_ids_confirmed']}, outbox depth {box.depth()}")
        assert publisher.counters["receipt_ids_confirmed"] == 0
        assert box.awaiting_receipt() == 2 and box.depth() == 2
        assert {"call-0001", "call-0002"} <= set(box._events)
        stop.set()
        await asyncio.wait_for(task, 10)
