"""The edge's one MQTT seam: drain the outbox to the broker at QoS 1, reconnecting forever."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import aiomqtt

from bedwatch import wire
from edge.config import MqttConfig
from edge.outbox import Outbox

log = logging.getLogger(__name__)


class Publisher:
    """Publish outbox rows in order; delete each only after its PUBACK."""

    def __init__(self, home: str, config: MqttConfig, outbox: Outbox, *,
                 online_status: Callable[[], bytes], status_interval_s: float = 30.0) -> None:
        self.home = home
        self.config = config
        self.outbox = outbox
        self.online_status = online_status
        self.status_interval_s = status_interval_s
        self.wake = asyncio.Event()
        self.connected = False
        self.published = 0
        self.connects = 0
        self._offline = wire.encode(wire.AgentStatus(agent=home, state="offline"))

    def _client(self) -> aiomqtt.Client:
        cfg = self.config
        tls = aiomqtt.TLSParameters(ca_certs=str(cfg.ca_file) if cfg.ca_file else None) \
            if cfg.tls else None
        return aiomqtt.Client(
            cfg.host, cfg.port,
            identifier=self.home,
            username=cfg.username, password=cfg.password,
            keepalive=cfg.keepalive,
            tls_params=tls,
            # The broker announces a lost home by itself (retained, so the hub sees it on start).
            will=aiomqtt.Will(wire.status_topic(self.home), self._offline, qos=1, retain=True),
            max_inflight_messages=cfg.max_inflight,
            timeout=10,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, drain, reconnect with backoff until `stop` is set; then go offline cleanly."""
        delay = 0.5
        while not stop.is_set():
            try:
                async with self._client() as client:
                    self.connected = True
                    self.connects += 1
                    delay = 0.5
                    log.info("connected to %s:%d", self.config.host, self.config.port)
                    await client.publish(wire.status_topic(self.home), self.online_status(),
                                         qos=1, retain=True)
                    await self._drain(client, stop)
                    # A clean stop: say offline ourselves (the will is only for a lost link).
                    await client.publish(wire.status_topic(self.home), self._offline,
                                         qos=1, retain=True)
                    return
            except aiomqtt.MqttError as exc:
                if self.connected:
                    log.warning("lost the broker: %s", exc)
                else:
                    log.info("broker unreachable (%s); retrying in %.1f s", exc, delay)
            finally:
                self.connected = False
            try:
                await asyncio.wait_for(stop.wait(), delay * random.uniform(0.8, 1.2))
            except TimeoutError:
                pass
            delay = min(delay * 2, 30.0)

    async def _drain(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_status = loop.time() + self.status_interval_s
        while not stop.is_set():
            rows = self.outbox.peek(self.config.max_inflight)
            if rows:
                # Published in order; paho sends them in call order, so the broker sees them so.
                await asyncio.gather(*(
                    client.publish(row.topic, row.payload, qos=1, retain=row.retain)
                    for row in rows
                ))
                self.outbox.ack([row.id for row in rows])
                self.published += len(rows)
                continue
            if loop.time() >= next_status:
                await client.publish(wire.status_topic(self.home), self.online_status(),
                                     qos=1, retain=True)
                next_status = loop.time() + self.status_interval_s
            self.wake.clear()
            if self.outbox.depth():
                continue
            waiter = asyncio.ensure_future(self.wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=max(0.0, next_status - loop.time()),
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
