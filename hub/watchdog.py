"""Watching the watcher: when the hub cannot do its job, a person is told, not only its log.

The service hands the watchdog a small `HubHealth` snapshot every tick. A condition that
lasts past its threshold (broker unreachable, InfluxDB writes failing, nothing received
while homes are online) opens one alert that pages the organisation's technicians; it
resolves by itself on recovery, with how long the outage lasted. While the hub is healthy
it pings an outside dead-man's switch, so that the hub's own death is noticed from outside.

Pure and clock-injected: tests advance a fake clock and hand in snapshots.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hub.config import HeartbeatSection, WatchdogSection

if TYPE_CHECKING:
    from hub.alerts import AlertEngine, Clock
    from hub.pager import Notifier
    from hub.service import Hub

log = logging.getLogger(__name__)


def is_mass_outage(offline: int, total: int, config: WatchdogSection) -> bool:
    """Return True when `offline` homes gone offline together (of `total`) are one outage."""
    if offline < 2:
        return False
    if offline >= config.homes_offline_count:
        return True
    return total > 0 and offline * 100 / total >= config.homes_offline_percent


@dataclass(frozen=True)
class HubHealth:
    """What the hub knows about itself at one tick."""

    broker_connected: bool  # the ingest is connected and subscribed
    influx_ok: bool  # the last InfluxDB write (or database check) worked
    messages_received: int  # ingest's running count of messages received
    homes_online: int  # agents whose last status is online
    database_ok: bool = True  # the SQL store answered


@dataclass(frozen=True)
class Condition:
    """One way the hub can fail: which alert it raises, after how long, and how it ends."""

    kind: str
    after_s: Callable[[WatchdogSection], float]
    recovered: str  # what the resolution note says came back


CONDITIONS = (
    Condition("broker_down", lambda c: c.broker_down_after_s, "broker reachable again"),
    Condition("influx_down", lambda c: c.influx_down_after_s, "InfluxDB writes work again"),
    Condition("ingest_stalled", lambda c: c.ingest_silent_after_s, "messages arrive again"),
)


class Pinger(Protocol):
    async def ping(self, url: str, timeout_s: float) -> str | None:
        """Ping the dead-man's switch; return None when it took the ping, else the error."""
        ...


class HttpPinger:
    """GET a plain http(s) URL (healthchecks.io style); notify any other URL through apprise."""

    def __init__(self, notifier: Notifier | None = None) -> None:
        self.notifier = notifier

    async def ping(self, url: str, timeout_s: float) -> str | None:
        if url.startswith(("http://", "https://")):
            try:
                async with httpx.AsyncClient(timeout=timeout_s) as client:
                    response = await client.get(url)
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}: {exc}"
            return None if response.status_code < 400 else f"HTTP {response.status_code}"
        if self.notifier is None:
            from hub.pager import ApprisePager

            self.notifier = ApprisePager()
        try:
            result = await asyncio.wait_for(
                self.notifier.deliver(url, "bedwatch hub alive", "The bedwatch hub is running "
                                      "and healthy."), timeout_s)
        except TimeoutError:
            return f"no answer within {timeout_s:g} s"
        return None if result.ok else result.error or "refused"


class Watchdog:
    """Turn the hub's health into alerts for the technicians, and ping the heartbeat."""

    def __init__(self, engine: AlertEngine, *, clock: Clock | None = None,
                 pinger: Pinger | None = None) -> None:
        self.engine = engine
        self.clock = clock or engine.clock
        self.config: WatchdogSection = engine.config.watchdog
        self.heartbeat: HeartbeatSection = engine.config.heartbeat
        self.pinger = pinger or HttpPinger(engine.notifier)
        self._bad_since: dict[str, float] = {}
        self._last_count: int | None = None
        self._last_message_at = 0.0
        self._healthy = False
        self._next_beat = 0.0
        self.counters = {"heartbeats": 0, "heartbeat_failures": 0}

    @property
    def healthy(self) -> bool:
        """Return True when no condition has lasted past its threshold at the last check."""
        return self._healthy

    def _bad(self, kind: str, health: HubHealth, now: float) -> bool:
        if kind == "broker_down":
            return not health.broker_connected
        if kind == "influx_down":
            return not health.influx_ok
        # Silence while the broker is away is the broker's alert, not a second one.
        return health.broker_connected and health.homes_online > 0 and \
            now - self._last_message_at >= self.config.ingest_silent_after_s

    def check(self, health: HubHealth) -> list[str]:
        """Open or resolve the hub's alerts for this snapshot; return the kinds now raised."""
        now = self.clock.now()
        if health.messages_received != self._last_count or not health.broker_connected or \
                health.homes_online == 0:
            # Silence counts only while the broker is there and some home should be talking.
            self._last_count, self._last_message_at = health.messages_received, now
        raised: list[str] = []
        # What this hub sees of its own links is its alert, named by the hub: with several
        # hubs on one database, a healthy hub must not resolve the alert of one that is not.
        me = self.engine.ownership.name
        try:
            with self.engine.sessions() as session:
                for condition in CONDITIONS:
                    kind = condition.kind
                    if not self._bad(kind, health, now):
                        self._bad_since.pop(kind, None)
                        if self.engine.resolve_hub_alert(session, kind, condition.recovered,
                                                         me):
                            log.info("%s: %s", kind, condition.recovered)
                        continue
                    since = self._bad_since.setdefault(
                        kind, self._last_message_at if kind == "ingest_stalled" else now)
                    if now - since < condition.after_s(self.config):
                        continue
                    raised.append(kind)
                    if self.engine.active_hub_alert(session, kind, me) is None:
                        log.error("%s since %.0f s: paging the technicians", kind, now - since)
                        self.engine.raise_hub_alert(session, kind, since, device=me)
                session.commit()
        except SQLAlchemyError:
            log.exception("the watchdog cannot reach the SQL store")
            self._healthy = False
            return raised
        self._healthy = health.database_ok and not raised
        return raised

    async def beat(self) -> bool:
        """Ping the dead-man's switch when it is due and the hub is healthy; True if taken."""
        url = self.heartbeat.url
        now = self.clock.now()
        if url is None or not self._healthy or now < self._next_beat:
            return False
        self._next_beat = now + self.heartbeat.every_s
        error = await self.pinger.ping(url, self.heartbeat.timeout_s)
        if error is not None:
            self.counters["heartbeat_failures"] += 1
            log.warning("heartbeat not taken: %s", error)
            return False
        self.counters["heartbeats"] += 1
        return True

    async def run_once(self, health: HubHealth) -> None:
        """Check the snapshot, then ping if healthy: a check that raises pings nothing."""
        self.check(health)
        await self.beat()


def read_health(hub: Hub) -> HubHealth:
    """Return the running hub's health snapshot (for `Watchdog.run_once`)."""
    from hub.db import AgentState

    try:
        with hub.sessions() as session:
            online = session.scalar(select(func.count()).select_from(AgentState).where(
                AgentState.state == "online")) or 0
        database_ok = True
    except SQLAlchemyError:
        online, database_ok = 0, False
    return HubHealth(broker_connected=hub.ingest.connected, influx_ok=hub.writer.reachable,
                     messages_received=hub.ingest.counters["received"], homes_online=online,
                     database_ok=database_ok)
