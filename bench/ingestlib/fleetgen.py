"""The fleet's load generator: many homes' traffic from one process, cheaply.

A general MQTT client (paho) costs tens of microseconds of Python per message and hands each
to its network thread one at a time: two such processes got 2,000–3,000 messages a second
acknowledged, a third of the traffic of 10,000 homes. Here each process keeps a few plain
MQTT 3.1.1 connections (`hub.mqttlane`'s packets), builds each home's QoS 1 PUBLISH with the
wire contract's payload, and writes a slice of the second's packets at a time, ten slices a
second, so the broker sees the homes spread over the second as real homes are; a reader per
connection counts the broker's PUBACKs. What it puts on the wire is what an agent publishes
(`bw/v1/<home>/readings|events|status`, QoS 1, status retained).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import orjson

from bedwatch import wire
from hub.broker import BrokerCredentials
from hub.mqttlane import CONNACK, PUBACK, connect_packet, publish_packet

EVENT_KINDS = ("bed_return", "mat_pressed", "mat_released")  # no alert, no page
FLAP_PERIOD_S = 30.0
SLICES = 10  # writes per second per connection


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.mid = 0
        self.acked = 0

    def packet(self, topic: str, payload: bytes, *, retain: bool = False) -> bytes:
        self.mid = self.mid % 65535 + 1
        return publish_packet(topic, payload, self.mid, retain=retain)

    async def count_acks(self) -> None:
        """Count PUBACKs (4 bytes each: the only packet the broker sends a publisher here)."""
        spare = b""
        while chunk := await self.reader.read(1 << 16):
            data = spare + chunk
            whole = len(data) - len(data) % 4
            if whole and data[0] != PUBACK:
                raise ConnectionError(f"unexpected packet {data[0]:#x} from the broker")
            self.acked += whole // 4
            spare = data[whole:]


async def _connect(port: int, credentials: BrokerCredentials) -> _Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(connect_packet(credentials.client_id, credentials.username,
                                credentials.password, keepalive=120, clean_session=True))
    connack = await asyncio.wait_for(reader.readexactly(4), 10)
    if connack[0] != CONNACK or connack[3] != 0:
        raise ConnectionError(f"the broker refused the load generator: {connack!r}")
    return _Connection(reader, writer)


def _readings(home: str, seq: int, now: float, count: int) -> bytes:
    readings = [{"device": "bed", "kind": "vitals", "t": now - 1 + k / 10,
                 "fields": {"heart_rate_bpm": float(55 + (seq + k) % 30),
                            "breathing_rate_bpm": float(12 + k % 7)}} for k in range(count)]
    return orjson.dumps({"v": 1, "agent": home, "seq": seq, "readings": readings})


async def _generate(port: int, users: list[BrokerCredentials], homes: list[str],
                    options: dict[str, Any], counts: Any) -> None:
    rng = random.Random(users[0].username)
    links = [await _connect(port, credentials) for credentials in users]
    readers = [asyncio.create_task(link.count_acks()) for link in links]
    flapping = set(rng.sample(homes, int(len(homes) * options["flapping"])))
    offline: set[str] = set()
    local = {"readings": 0, "events": 0, "statuses": 0, "late_ticks": 0}
    start = time.time()
    next_flap = time.monotonic() + rng.uniform(1, FLAP_PERIOD_S / 2)
    slices = [homes[i::SLICES] for i in range(SLICES)]
    seq = 0
    tick = time.monotonic()
    while time.monotonic() < options["deadline"]:
        seq += 1
        for part, slice_homes in enumerate(slices):
            now = time.time()
            out: list[list[bytes]] = [[] for _ in links]
            for n, home in enumerate(slice_homes):
                if home in offline:
                    continue
                link = n % len(links)
                out[link].append(links[link].packet(
                    f"{wire.TOPIC_ROOT}/{home}/readings",
                    _readings(home, seq, now, options["readings"])))
                local["readings"] += 1
                if rng.random() < options["event_rate"]:
                    event = {"v": 1, "id": uuid.uuid4().hex, "seq": seq, "t": now,
                             "device": "bed", "kind": rng.choice(EVENT_KINDS),
                             "severity": "info"}
                    out[link].append(links[link].packet(f"{wire.TOPIC_ROOT}/{home}/events",
                                                        orjson.dumps(event)))
                    local["events"] += 1
            if part == 0 and flapping and time.monotonic() >= next_flap:
                next_flap += FLAP_PERIOD_S / 2
                for n, home in enumerate(sorted(flapping)):
                    state = "online" if home in offline else "offline"
                    (offline.discard if state == "online" else offline.add)(home)
                    status = {"v": 1, "agent": home, "state": state, "t": time.time(),
                              "uptime_s": time.time() - start}
                    link = n % len(links)
                    out[link].append(links[link].packet(f"{wire.TOPIC_ROOT}/{home}/status",
                                                        orjson.dumps(status), retain=True))
                    local["statuses"] += 1
            for link, packets in zip(links, out, strict=True):
                link.writer.write(b"".join(packets))
            await asyncio.gather(*(link.writer.drain() for link in links))
            await asyncio.sleep(max(0.0, tick + (part + 1) / SLICES - time.monotonic()))
        counts.update(local, acked=sum(link.acked for link in links))
        tick += 1.0
        if time.monotonic() - tick > 1.0:
            local["late_ticks"] += 1  # the generator itself could not keep its second
    await asyncio.sleep(1.0)
    counts.update(local, acked=sum(link.acked for link in links))
    for link in links:
        link.writer.close()
    for reader in readers:
        reader.cancel()


def generate(job: tuple[int, list[BrokerCredentials], list[str], dict[str, Any]],
             counts: Any) -> None:
    """One load generator process, a connection per broker user in the job: its homes'
    traffic every second until the deadline."""
    port, users, homes, options = job
    asyncio.run(_generate(port, users, homes, options, counts))
