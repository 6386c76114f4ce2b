"""The hub's one MQTT seam: persistent sessions that acknowledge only what was stored.

Two lanes, each its own MQTT session, subscription and worker, so that nothing queued on one
can hold back the other: the **control** lane carries events, agent and device status and
command acks; the **readings** lane carries reading batches. A call behind a backlog of a
million readings is handled as soon as it arrives.

aiomqtt has no manual acknowledgement, but its paho client does (`manual_ack_set`, `ack`):
with it, a message the hub had not stored when it died is delivered again by the broker.

On the readings lane "stored" means in InfluxDB: the handler hands back a `Pending` for a
batch it has queued for writing, and the message is acknowledged only once that is stored
and every message that arrived before it is acknowledged (`AckWindow`: MQTT 3.1.1 §4.6
wants PUBACKs in the order of the PUBLISHes). At `max_unacked` messages held, the lane asks
for a write at once (`on_window_full`) and reads nothing more until some are acknowledged;
the broker holds the rest in the hub's persistent session.

The readings lane speaks MQTT through `hub.mqttlane` (many messages per read, their PUBACKs in
one write) and decodes batches with `wire.decode_batch` straight into line protocol, handed to
`store_lines`; without `store_lines` every message goes to the handler as a model. Several
processes can share the readings (`readings_lane(n, of)`): each its own persistent session,
members of the shared subscription `$share/bedwatch/bw/v1/+/readings`, which the broker serves
round-robin; the control lane stays one session, so a home's events keep their order.

Nothing stalls a lane: a message that does not decode is a counted rejection; one whose
handling fails is retried `max_attempts` times and then handed to the dead-letter store,
acknowledged, and the lane moves on. Only when the dead-letter store itself fails is the
message left unacknowledged (the fault is the hub's, not the message's) and the lane
reconnects to have it delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from bedwatch import wire
from bedwatch.connection import Backoff, Link, Recovery
from hub.broker import READINGS_SUFFIX, SHARE_GROUP, readings_suffix
from hub.config import MqttSection
from hub.lineprotocol import row_lines
from hub.mqttlane import AckWindow, LaneError, MqttSession, Pending, Publish, _Slot

log = logging.getLogger(__name__)
# The topics of events (bw/v1/<home>/events): the control lane hands these out first.
EVENTS_SUFFIX = f"/{wire.Channel.EVENTS.value}"

__all__ = ["AckWindow", "Ingest", "Lane", "Pending", "readings_lane"]


# Returns None when the message is stored, or a Pending that says when it will be.
Handler = Callable[[str, wire.Channel, str | None, wire.Message], Awaitable[Pending | None]]
# (topic, payload, error, attempts) -> None; raises when the message could not be kept.
DeadLetterSink = Callable[[str, bytes, str, int], Awaitable[None]]
# (home, a reading batch's rows, their line-protocol lines) -> what is still being stored.
LinesSink = Callable[[str, wire.BatchRows, list[str]], Pending | None]


@dataclass(frozen=True)
class Lane:
    """One MQTT session of the hub and what it subscribes to."""

    name: str
    client_suffix: str
    subscriptions: tuple[str, ...]
    # Topics an older session of this client id may still hold; dropped on connect.
    unsubscribe: tuple[str, ...] = ()


_READINGS = f"{wire.TOPIC_ROOT}/+/readings"
SHARED_READINGS = f"$share/{SHARE_GROUP}/{_READINGS}"
CONTROL = Lane("control", "", tuple(t for t in wire.HUB_SUBSCRIPTIONS if t != _READINGS),
               unsubscribe=(_READINGS,))
READINGS = Lane("readings", READINGS_SUFFIX, (_READINGS,), unsubscribe=(SHARED_READINGS,))
LANES = (CONTROL, READINGS)


def readings_lane(worker: int, workers: int) -> Lane:
    """Return the readings lane of ingest worker `worker` (1-based) of `workers`.

    One worker subscribes alone; several share the subscription, each with its own session.
    """
    if workers == 1:
        return READINGS
    return Lane("readings", readings_suffix(worker), (SHARED_READINGS,),
                unsubscribe=(_READINGS,))


def tls_context(tls: bool, ca_file: Path | None) -> ssl.SSLContext | None:
    """Return the TLS context for the broker (CA and host name verified), or None."""
    if not tls:
        return None
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class Ingest:
    """Receive, validate and hand over every message; count what is rejected and why."""

    def __init__(self, config: MqttSection, handler: Handler, *,
                 dead_letter: DeadLetterSink | None = None, max_attempts: int = 3,
                 retry_base_s: float = 0.2,
                 on_window_full: Callable[[], None] | None = None,
                 store_lines: LinesSink | None = None,
                 lanes: tuple[Lane, ...] = LANES) -> None:
        self.config = config
        self.on_window_full = on_window_full
        self.store_lines = store_lines
        self.lanes = lanes
        # Read once at start: a missing password file stops the hub with the key named.
        self._password = config.read_password()
        self.handler = handler
        self.dead_letter = dead_letter
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.counters: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.lane_connected = {lane.name: False for lane in lanes}
        # Monotonic time of the last message on any lane (the watchdog's "ingest stopped").
        self.last_message_at: float | None = None
        self._clients: dict[str, aiomqtt.Client] = {}
        self.links = {lane.name: Link(f"{lane.name} lane", Backoff(min_s=0.5, max_s=30.0))
                      for lane in lanes}

    @property
    def connected(self) -> bool:
        """Return True when every lane has its session."""
        return all(self.lane_connected.values())

    def _client(self, lane: Lane) -> aiomqtt.Client:
        cfg = self.config
        # Each lane is its own broker user, bound to its client id (hub/broker.py).
        client = aiomqtt.Client(
            cfg.host, cfg.port, identifier=cfg.client_id + lane.client_suffix,
            clean_session=False, username=cfg.lane_user(lane.client_suffix),
            password=self._password, tls_context=tls_context(cfg.tls, cfg.ca_file),
            keepalive=30, protocol=aiomqtt.ProtocolVersion.V311,
            max_queued_incoming_messages=0, queue_type=EventsFirst)
        # Set before connecting: queued messages arrive right after CONNACK.
        client._client.manual_ack_set(True)
        return client

    async def process(self, topic: str, payload: bytes
                      ) -> tuple[wire.Message | None, Pending | None]:
        """Validate one message and hand it to the handler; return the message (None when
        rejected) and what the handler says is still being stored.

        Rejections are counted by reason; an exception from the handler propagates.
        """
        self.counters["received"] += 1
        try:
            home, channel, device, message = wire.decode(topic, payload)
        except wire.WireError as exc:
            self.rejected[exc.code] += 1
            log.warning("rejected message on %s: %s", topic[:200], exc.reason)
            return None, None
        pending = await self.handler(home, channel, device, message)
        self.counters["accepted"] += 1
        return message, pending

    def process_batch(self, topic: str, payload: bytes) -> Pending | None:
        """Validate one reading batch, format its lines and hand them to `store_lines`; return
        what is still being stored (None when rejected or stored).

        The same verdicts and rejection counts as `process`, without a model per reading.
        """
        assert self.store_lines is not None
        self.counters["received"] += 1
        try:
            home, rows = wire.decode_batch(topic, payload)
        except wire.WireError as exc:
            self.rejected[exc.code] += 1
            log.warning("rejected message on %s: %s", topic[:200], exc.reason)
            return None
        pending = self.store_lines(home, rows, row_lines(home, rows.readings))
        self.counters["accepted"] += 1
        return pending

    async def run(self, stop: asyncio.Event) -> None:
        """Keep every lane subscribed until `stop` is set."""
        await asyncio.gather(*(self._run_lane(lane, stop) for lane in self.lanes))

    async def _run_lane(self, lane: Lane, stop: asyncio.Event) -> None:
        link = self.links[lane.name]
        session = self._readings_session if lane.name == READINGS.name else \
            self._control_session
        while not stop.is_set():
            try:
                await session(lane, stop)
            except (aiomqtt.MqttError, LaneError) as exc:
                reason = str(exc)
            else:
                reason = "the session ended"
            finally:
                self.lane_connected[lane.name] = False
                self._clients.pop(lane.name, None)
            if stop.is_set():
                break
            fault = link.down(reason)
            delay = link.next_delay()
            # A warning once per outage; each further try at info.
            log.log(logging.WARNING if fault else logging.INFO,
                    "%s lane: broker connection: %s; retrying in %.1f s", lane.name, reason,
                    delay)
            await link.pause(delay, stop)

    def _subscribed(self, lane: Lane, client_id: str) -> None:
        self.lane_connected[lane.name] = True
        log.info("%s lane subscribed to %s:%d as %s", lane.name, self.config.host,
                 self.config.port, client_id)
        for report in self.links[lane.name].up():
            if isinstance(report, Recovery):
                log.info("%s lane: the broker is back after %.1f s (%d failures)",
                         lane.name, report.outage_s, report.failures)

    @staticmethod
    async def _until_stopped(work: Awaitable[None], stop: asyncio.Event) -> None:
        """Run `work` until it ends (raising what it raised) or `stop` is set."""
        reader = asyncio.ensure_future(work)
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        reader.cancel()
        stopper.cancel()
        if reader in done and not reader.cancelled() and reader.exception():
            raise reader.exception()  # type: ignore[misc]

    async def _control_session(self, lane: Lane, stop: asyncio.Event) -> None:
        async with self._client(lane) as client:
            for topic in lane.unsubscribe:
                await client.unsubscribe(topic)
            for topic in lane.subscriptions:
                await client.subscribe(topic, qos=1)
            self._clients[lane.name] = client
            self._subscribed(lane, self.config.client_id + lane.client_suffix)
            await self._until_stopped(self._read(lane, client), stop)

    async def _readings_session(self, lane: Lane, stop: asyncio.Event) -> None:
        cfg = self.config
        client_id = cfg.client_id + lane.client_suffix
        session = MqttSession(cfg.host, cfg.port, client_id=client_id,
                              username=cfg.lane_user(lane.client_suffix),
                              password=self._password, tls=tls_context(cfg.tls, cfg.ca_file),
                              keepalive=30)
        await session.open(clean_session=False)
        try:
            await session.unsubscribe(lane.unsubscribe)
            await session.subscribe(lane.subscriptions, qos=1)
            self._subscribed(lane, client_id)
            await self._until_stopped(self._read_readings(lane, session), stop)
        finally:
            await session.close()

    async def _read_readings(self, lane: Lane, session: MqttSession) -> None:
        """Take messages in bulk; acknowledge each once stored, in order, within the window."""
        window = AckWindow()
        room = asyncio.Event()
        room.set()
        limit = self.config.max_unacked
        received = f"{lane.name}_received"
        due: list[int] = []  # packet ids to acknowledge, written together
        loop = asyncio.get_running_loop()

        def write_acks() -> None:
            mids = due[:]
            due.clear()
            with contextlib.suppress(LaneError):  # gone: the broker sends them again
                session.ack(mids)

        def settle(slot: _Slot) -> None:
            ready = window.settle(slot)
            if ready:
                if not due:  # one write for all settled in this turn of the loop
                    loop.call_soon(write_acks)
                due.extend(ready)
            if len(window) < limit:
                room.set()
                session.pause(False)

        try:
            while True:
                messages: list[Publish] = await session.receive()
                self.last_message_at = time.monotonic()
                for n, message in enumerate(messages, 1):
                    if n % 256 == 0:  # a long bulk lets the control lane in now and then
                        await asyncio.sleep(0)
                    self.counters[received] += 1
                    pending = await self._handle_with_retries(message.topic, message.payload,
                                                              None)
                    if message.qos == 0:
                        continue
                    _hold(window, message.mid, pending, settle)
                    if len(window) >= limit:
                        # Read no further; the broker keeps the rest in the session.
                        room.clear()
                        session.pause(True)
                        if self.on_window_full is not None:
                            self.on_window_full()
                        await self._wait_for_room(room, session.wait_until_ended())
                # Let the control lane and the writers run between bulks.
                await asyncio.sleep(0)
        finally:
            # Unacknowledged messages come again with the next session.
            window.close()

    async def _read(self, lane: Lane, client: aiomqtt.Client) -> None:
        window = AckWindow()
        room = asyncio.Event()
        room.set()
        limit = self.config.max_unacked
        paho = client._client

        def settle(slot: _Slot) -> None:
            for mid in window.settle(slot):
                paho.ack(mid, 1)
            if len(window) < limit:
                room.set()

        queue = client._queue
        opened: dict[int, _Slot] = {}  # by id(message): slots opened at arrival

        try:
            async for message in client.messages:
                if isinstance(queue, EventsFirst):  # taken out of order: ack in arrival order
                    for arrived in queue.take_arrivals():
                        if arrived.qos:
                            opened[id(arrived)] = window.open(arrived.mid)
                self.last_message_at = time.monotonic()
                self.counters[f"{lane.name}_received"] += 1
                payload = message.payload
                data = payload if isinstance(payload, bytes) else str(payload or "").encode()
                pending = await self._handle_with_retries(message.topic.value, data, client)
                if message.qos == 0:
                    continue
                _hold(window, message.mid, pending, settle, opened.pop(id(message), None))
                if len(window) - queue.qsize() >= limit:  # held, not merely queued
                    room.clear()
                    if self.on_window_full is not None:
                        self.on_window_full()
                    await self._wait_for_room(room, client._disconnected)
                # The iterator does not yield while messages are queued: let the other lane run.
                await asyncio.sleep(0)
        finally:
            # Unacknowledged messages come again with the next session.
            window.close()

    @staticmethod
    async def _wait_for_room(room: asyncio.Event, lost: Awaitable[None]) -> None:
        """Wait until the window has room, or raise when the session is lost meanwhile."""
        async def has_room() -> None:
            await room.wait()

        waiter = asyncio.ensure_future(has_room())
        ended = asyncio.ensure_future(lost)
        try:
            await asyncio.wait([waiter, ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if ended is not lost:
                ended.cancel()
        if not room.is_set():
            raise aiomqtt.MqttError("the session ended while messages awaited InfluxDB")

    async def _handle_with_retries(self, topic: str, data: bytes,
                                   client: aiomqtt.Client | None) -> Pending | None:
        """Handle one message; return what is still being stored, or None when it may be
        acknowledged now. Raise when it can be neither stored nor kept.

        `client` is None on the readings lane, which sends no receipts.
        """
        error = ""
        for attempt in range(self.max_attempts):
            try:
                if client is None and self.store_lines is not None:
                    decoded, pending = None, self.process_batch(topic, data)
                else:
                    decoded, pending = await self.process(topic, data)
            except Exception as exc:
                self.counters["handler_errors"] += 1
                error = f"{type(exc).__name__}: {exc}"[:2000]
                log.exception("storing a message on %s failed (attempt %d of %d)", topic[:200],
                              attempt + 1, self.max_attempts)
                if attempt + 1 < self.max_attempts:
                    await asyncio.sleep(self.retry_base_s * 2 ** attempt)
                continue
            if isinstance(decoded, wire.Event) and client is not None:
                await self._receipt(client, topic, decoded)
            return pending
        await self._to_dead_letter(topic, data, error)
        return None

    async def _to_dead_letter(self, topic: str, data: bytes, error: str) -> None:
        if self.dead_letter is None:
            # Without a store the only safe course is not to acknowledge.
            raise aiomqtt.MqttError("could not store a message; reconnecting")
        try:
            await self.dead_letter(topic, data, error, self.max_attempts)
        except Exception as exc:
            self.counters["dead_letter_errors"] += 1
            log.exception("dead-letter store failed for a message on %s", topic[:200])
            raise aiomqtt.MqttError("could not keep a failed message; reconnecting") from exc
        self.counters["dead_letters"] += 1
        log.error("message on %s moved to the dead-letter store after %d attempts: %s",
                  topic[:200], self.max_attempts, error)

    async def _receipt(self, client: aiomqtt.Client, topic: str, event: wire.Event) -> None:
        # The agent keeps an event until this arrives; a lost receipt only costs a re-send.
        home, _, _ = wire.parse_topic(topic)  # it decoded: the topic is a home's
        payload = wire.encode(wire.Receipt(ids=[event.id], t=time.time()))
        try:
            await client.publish(wire.receipts_topic(home), payload, qos=1, timeout=5)
            self.counters["receipts"] += 1
        except aiomqtt.MqttError as exc:
            self.counters["receipt_errors"] += 1
            log.warning("receipt for %s to %s not sent: %s", event.id, home, exc)


class EventsFirst(asyncio.Queue[aiomqtt.Message]):
    """The control lane's queue of received messages (aiomqtt's `queue_type`): events are
    handed out before statuses and command acknowledgements, each kind in arrival order.

    A call must not wait behind a burst of statuses (a street's homes reconnecting after a
    power cut sends hundreds at once, each a database write). Events keep their order among
    themselves, so each home's events are handled as sent. `take_arrivals` tells the reader
    every message in the order the broker sent them, so that PUBACKs still leave in that
    order (MQTT 3.1.1 §4.6).
    """

    def _init(self, maxsize: int) -> None:
        self._urgent: deque[aiomqtt.Message] = deque()
        self._other: deque[aiomqtt.Message] = deque()
        self._arrivals: deque[aiomqtt.Message] = deque()

    def _put(self, item: aiomqtt.Message) -> None:
        (self._urgent if item.topic.value.endswith(EVENTS_SUFFIX) else self._other).append(item)
        self._arrivals.append(item)

    def _get(self) -> aiomqtt.Message:
        return self._urgent.popleft() if self._urgent else self._other.popleft()

    def qsize(self) -> int:
        return len(self._urgent) + len(self._other)

    def empty(self) -> bool:
        return not (self._urgent or self._other)

    def take_arrivals(self) -> list[aiomqtt.Message]:
        """Return the messages put since the last call, in the order they arrived."""
        arrived = list(self._arrivals)
        self._arrivals.clear()
        return arrived


def _hold(window: AckWindow, mid: int, pending: Pending | None,
          settle: Callable[[_Slot], None], slot: _Slot | None = None) -> None:
    """Open the message's slot in the window (unless opened at its arrival); settle it now,
    or once its batch is stored."""
    slot = window.open(mid) if slot is None else slot
    if pending is None:
        settle(slot)
    else:
        slot.pending = pending
        pending.when_stored(functools.partial(settle, slot))
