"""The edge's one MQTT seam: drain the outbox to the broker at QoS 1, reconnecting forever.

Status leaves the outbox on the broker's PUBACK. An event leaves only when the hub's receipt
(`wire.receipts_topic`) names its id: a PUBACK means the broker has it, not that it is
stored. An event without a receipt is sent again, same id and payload, after
`receipt_timeout_s` (doubling up to `receipt_timeout_max_s`) and on every reconnect. Reading
batches PUBACKed within the outbox's resend window are sent again on every reconnect, after
the events: a broker killed between two saves of its store has forgotten them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable

import aiomqtt

from bedwatch import wire
from bedwatch.connection import Backoff, Link, Recovery
from edge.config import MqttConfig
from edge.outbox import Outbox

log = logging.getLogger(__name__)


class Publisher:
    """Publish outbox rows in order; forget events on the hub's receipt, the rest on PUBACK."""

    def __init__(self, home: str, config: MqttConfig, outbox: Outbox, *,
                 online_status: Callable[[], bytes], status_interval_s: float = 30.0,
                 receipt_timeout_s: float = 10.0, receipt_timeout_max_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.home = home
        self.config = config
        self.outbox = outbox
        self.online_status = online_status
        self.status_interval_s = status_interval_s
        self.receipt_timeout_s = receipt_timeout_s
        self.receipt_timeout_max_s = receipt_timeout_max_s
        self.clock = clock
        self.wake = asyncio.Event()
        self.connected = False
        self.published = 0
        self.connects = 0
        self.counters = {"resent": 0, "resent_readings": 0, "receipts": 0,
                         "receipt_ids_confirmed": 0, "receipt_ids_unknown": 0,
                         "receipts_rejected": 0}
        self._events_topic = wire.events_topic(home)
        self._receipts_topic = wire.receipts_topic(home)
        self._due: dict[int, float] = {}  # sent event row -> when to send it again
        self._tries: dict[int, int] = {}  # sent event row -> how often sent without receipt
        self._status_requested = False
        self._offline = wire.encode(wire.AgentStatus(agent=home, state="offline"))
        self.link = Link("publisher", Backoff(min_s=0.5, max_s=30.0))

    def request_status(self) -> None:
        """Publish the online status soon (it changed), not only on the next interval."""
        self._status_requested = True
        self.wake.set()

    def _client(self) -> aiomqtt.Client:
        cfg = self.config
        tls = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None) \
            if cfg.tls else None  # the broker's certificate and host name are verified
        return aiomqtt.Client(
            cfg.host, cfg.port,
            # The home's broker user is bound to this id: no other client can take it.
            identifier=cfg.client_id or self.home,
            username=cfg.username or self.home, password=cfg.password,
            keepalive=cfg.keepalive,
            tls_context=tls,
            # The broker announces a lost home by itself (retained, so the hub sees it on start).
            will=aiomqtt.Will(wire.status_topic(self.home), self._offline, qos=1, retain=True),
            max_inflight_messages=cfg.max_inflight,
            timeout=10,
        )

    # -- receipts and re-sending -----------------------------------------------------------------

    def on_receipt(self, topic: str, payload: bytes) -> int:
        """Take one message from the receipts topic; return how many events it confirmed."""
        try:
            home, channel, _, message = wire.decode(topic, payload)
        except wire.WireError as exc:
            self.counters["receipts_rejected"] += 1
            log.warning("rejected a receipt on %s (%s): %s", topic, exc.code, exc.reason)
            return 0
        if home != self.home or not isinstance(message, wire.Receipt):
            self.counters["receipts_rejected"] += 1
            log.warning("rejected a %s message on %s", channel, topic)
            return 0
        self.counters["receipts"] += 1
        ids = set(message.ids)
        removed = self.outbox.confirm(self._events_topic, ids)
        for row_id in removed:
            self._due.pop(row_id, None)
            self._tries.pop(row_id, None)
        self.counters["receipt_ids_confirmed"] += len(removed)
        # The hub answers every copy: ids already forgotten are normal, still counted.
        self.counters["receipt_ids_unknown"] += len(ids) - len(removed)
        if removed:
            self.wake.set()
        return len(removed)

    def _sent(self, row_ids: list[int]) -> None:
        now = self.clock()
        for row_id in row_ids:
            tries = self._tries.get(row_id, 0) + 1
            self._tries[row_id] = tries
            wait = min(self.receipt_timeout_s * 2 ** (tries - 1), self.receipt_timeout_max_s)
            self._due[row_id] = now + wait

    def resend_due(self) -> int:
        """Put events whose receipt is overdue back in the queue; return how many."""
        now = self.clock()
        due = [row_id for row_id, when in self._due.items() if when <= now]
        for row_id in due:
            del self._due[row_id]
        count = self.outbox.requeue(due) if due else 0
        self.counters["resent"] += count
        return count

    def _next_resend_in(self) -> float | None:
        if not self._due:
            return None
        return max(0.0, min(self._due.values()) - self.clock())

    # -- the connection --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, drain, reconnect with backoff until `stop` is set; then go offline cleanly."""
        link = self.link
        while not stop.is_set():
            try:
                async with self._client() as client:
                    self.connected = True
                    self.connects += 1
                    log.info("connected to %s:%d", self.config.host, self.config.port)
                    for report in link.up():
                        if isinstance(report, Recovery):
                            log.info("the broker is back after %.1f s (%d failures)",
                                     report.outage_s, report.failures)
                    # Subscribed before any event goes out, so no receipt can be missed.
                    await client.subscribe(self._receipts_topic, qos=1)
                    # Every event still without a receipt goes again, life-safety first.
                    again = self.outbox.requeue()
                    self._due.clear()
                    if again:
                        self.counters["resent"] += again
                        log.info("re-sending %d event(s) without a receipt", again)
                    # Queued behind every event, as readings always are.
                    batches = self.outbox.resend_held()
                    if batches:
                        self.counters["resent_readings"] += batches
                        log.info("re-sending %d reading batch(es) the broker acknowledged "
                                 "within the last %.0f s", batches, self.outbox.resend_window_s)
                    await client.publish(wire.status_topic(self.home), self.online_status(),
                                         qos=1, retain=True)
                    listener = asyncio.create_task(self._listen(client), name="receipts")
                    try:
                        await self._drain(client, stop, listener)
                    finally:
                        listener.cancel()
                        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                            await listener
                    # A clean stop: say offline ourselves (the will is only for a lost link).
                    await client.publish(wire.status_topic(self.home), self._offline,
                                         qos=1, retain=True)
                    return
            except aiomqtt.MqttError as exc:
                fault = link.down(str(exc))
                delay = link.next_delay()
                if self.connected:
                    log.warning("lost the broker: %s", exc)
                else:  # said once per outage as a warning, then at each try
                    log.log(logging.WARNING if fault else logging.INFO,
                            "broker unreachable (%s); retrying in %.1f s", exc, delay)
            finally:
                self.connected = False
            await link.pause(delay, stop)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload or "").encode()
            self.on_receipt(message.topic.value, data)

    async def _drain(self, client: aiomqtt.Client, stop: asyncio.Event,
                     listener: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        next_status = loop.time() + self.status_interval_s
        while not stop.is_set():
            if listener.done():
                # The receipts listener ends only with the connection: reconnect.
                error = listener.exception()
                raise error if isinstance(error, aiomqtt.MqttError) else \
                    aiomqtt.MqttError(f"receipts listener stopped: {error!r}")
            self.resend_due()
            rows = self.outbox.peek(self.config.max_inflight)
            if rows:
                # Published in order; paho sends them in call order, so the broker sees them so.
                await asyncio.gather(*(
                    client.publish(row.topic, row.payload, qos=1, retain=row.retain)
                    for row in rows
                ))
                self._sent(self.outbox.ack([row.id for row in rows]))
                self.published += len(rows)
                continue
            if loop.time() >= next_status or self._status_requested:
                self._status_requested = False
                await client.publish(wire.status_topic(self.home), self.online_status(),
                                     qos=1, retain=True)
                next_status = loop.time() + self.status_interval_s
            self.wake.clear()
            if self.outbox.peek(1):
                continue
            timeout = max(0.0, next_status - loop.time())
            resend_in = self._next_resend_in()
            if resend_in is not None:
                timeout = min(timeout, resend_in)
            waiter = asyncio.ensure_future(self.wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper, listener}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
