"""The hub's one MQTT seam: a persistent session that acknowledges only what it has stored.

aiomqtt has no manual acknowledgement, but its paho client does (`manual_ack_set`, `ack`):
with it, a message the hub had not stored when it died is delivered again by the broker.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable

import aiomqtt

from bedwatch import wire
from hub.config import MqttSection

log = logging.getLogger(__name__)

Handler = Callable[[str, wire.Channel, str | None, wire.Message], Awaitable[None]]


class Ingest:
    """Receive, validate and hand over every message; count what is rejected and why."""

    def __init__(self, config: MqttSection, handler: Handler) -> None:
        self.config = config
        self.handler = handler
        self.connected = False
        self.counters: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()

    def _client(self) -> aiomqtt.Client:
        cfg = self.config
        tls = aiomqtt.TLSParameters(ca_certs=str(cfg.ca_file) if cfg.ca_file else None) \
            if cfg.tls else None
        client = aiomqtt.Client(
            cfg.host, cfg.port, identifier=cfg.client_id, clean_session=False,
            username=cfg.username, password=cfg.password, tls_params=tls, keepalive=30,
            protocol=aiomqtt.ProtocolVersion.V311, max_queued_incoming_messages=0)
        # Set before connecting: queued messages arrive right after CONNACK.
        client._client.manual_ack_set(True)
        return client

    async def process(self, topic: str, payload: bytes) -> None:
        """Validate one message and hand it to the handler; reject malformed ones."""
        self.counters["received"] += 1
        try:
            home, channel, device, message = wire.decode(topic, payload)
        except wire.WireError as exc:
            self.rejected[exc.code] += 1
            log.warning("rejected message on %s: %s", topic, exc.reason)
            return
        await self.handler(home, channel, device, message)
        self.counters["accepted"] += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Stay subscribed until `stop` is set, reconnecting with backoff."""
        delay = 0.5
        while not stop.is_set():
            try:
                async with self._client() as client:
                    self.connected = True
                    delay = 0.5
                    for topic in wire.HUB_SUBSCRIPTIONS:
                        await client.subscribe(topic, qos=1)
                    log.info("subscribed to %s:%d", self.config.host, self.config.port)
                    reader = asyncio.create_task(self._read(client))
                    stopper = asyncio.create_task(stop.wait())
                    done, _ = await asyncio.wait({reader, stopper},
                                                 return_when=asyncio.FIRST_COMPLETED)
                    reader.cancel()
                    stopper.cancel()
                    if reader in done and not reader.cancelled() and reader.exception():
                        raise reader.exception()  # type: ignore[misc]
            except aiomqtt.MqttError as exc:
                log.warning("broker connection: %s; retrying in %.1f s", exc, delay)
            finally:
                self.connected = False
            if stop.is_set():
                break
            try:
                await asyncio.wait_for(stop.wait(), delay * random.uniform(0.8, 1.2))
            except TimeoutError:
                pass
            delay = min(delay * 2, 30.0)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload or "").encode()
            for attempt in range(3):
                try:
                    await self.process(message.topic.value, data)
                    break
                except Exception:
                    self.counters["handler_errors"] += 1
                    log.exception("storing a message on %s failed (attempt %d)",
                                  message.topic.value, attempt + 1)
                    await asyncio.sleep(0.2 * 2 ** attempt)
            else:
                # Not acknowledged: reconnecting makes the broker deliver it again.
                raise aiomqtt.MqttError("could not store a message; reconnecting")
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)
