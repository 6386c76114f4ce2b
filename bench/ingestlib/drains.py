"""A drain: a consumer started on a queued backlog, counted in InfluxDB until all is there."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hub.broker import BrokerCredentials, ensure_hub_identity, readings_suffix
from hub.registry_file import REGISTRY_KEYS
from rig.site import CaregiverSpec, HomeSpec, LocalSite, Program, hub_config, write_toml
from rig.stack import InfluxDB, Mosquitto

from .data import POLL_S, STALL_S, influx_count
from .mqttload import _connect, publish_backlog, wait_until_storing
from .procs import PySpy, Usage, peak_rss_mb, written_mb


@dataclass
class Drain:
    """What one consumer did with the backlog after its restart."""

    readings: int
    counted: int = 0
    restart_to_first_s: float | None = None
    first_to_last_s: float | None = None
    restart_to_last_s: float | None = None
    counted_after_first: int = 0
    cpu_s: float = 0.0  # from the restart to the last reading
    drain_cpu_s: float = 0.0  # from the first reading to the last
    peak_rss_mb: float = 0.0
    broker_cpu_s: float = 0.0
    broker_written_mb: float = 0.0  # what Mosquitto wrote to disk during the drain
    influxdb_cpu_s: float = 0.0
    published_messages: int = 0
    publish_s: float = 0.0
    publish_broker_written_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.readings - self.counted

    @property
    def rate(self) -> float | None:
        """Readings per second from the first reading seen in InfluxDB to the last."""
        if not self.first_to_last_s:
            return None
        return self.counted_after_first / self.first_to_last_s

    def figures(self) -> dict[str, Any]:
        return {**asdict(self), "lost": self.lost, "rate": self.rate}


def drain(influx: InfluxDB, db: str, readings: int, start: Callable[[], int],
          broker: Mosquitto, profile: Path | None = None) -> Drain:
    """Start the consumer (`start` returns its pid) and count until every reading is there.

    With `profile`, py-spy records the consumer's Python stacks into that file meanwhile.
    """
    result = Drain(readings=readings)
    broker_pid = broker.process.pid if broker.process else None
    broker_before = Usage.of(broker_pid).cpu_s
    written_before = written_mb(broker_pid)
    influx_before = Usage.of(influx.process.pid if influx.process else None).cpu_s
    t0 = time.perf_counter()
    pid = start()
    spy = PySpy(pid, profile) if profile else None
    cpu_at_first = 0.0
    first_at = None
    first_count = 0
    last_change, count = t0, 0
    usage = Usage()
    while True:
        now_count = influx_count(influx, db)
        now = time.perf_counter()
        usage = Usage.of(pid)
        result.peak_rss_mb = max(result.peak_rss_mb, usage.rss_mb)
        if now_count != count:
            count, last_change = now_count, now
        if count and first_at is None:
            first_at, first_count, cpu_at_first = now, count, usage.cpu_s
            result.restart_to_first_s = now - t0
        if count >= readings:
            result.restart_to_last_s = now - t0
            if first_at is not None and now > first_at:
                result.first_to_last_s = now - first_at
                result.counted_after_first = count - first_count
            break
        if now - last_change > STALL_S:
            break
        time.sleep(POLL_S)
    if spy is not None:
        result.extra["profile"] = spy.stop()
    result.counted = count
    result.cpu_s = usage.cpu_s
    result.drain_cpu_s = usage.cpu_s - cpu_at_first if first_at is not None else 0.0
    result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb(pid))
    result.broker_cpu_s = Usage.of(broker_pid).cpu_s - broker_before
    result.broker_written_mb = written_mb(broker_pid) - written_before
    result.influxdb_cpu_s = Usage.of(influx.process.pid if influx.process else None).cpu_s \
        - influx_before
    return result



def start_hub(site: LocalSite, workers: int = 1, import_timeout_s: float = 120.0) -> Program:
    """Write the hub's config, import its registry and start `bedwatch hub run`.

    As `LocalSite.start_hub` does, without waiting for /healthz: the bench takes the hub as
    ready once it has stored a probe reading, which says more, and /healthz may answer 503
    until a first write reached InfluxDB.
    """
    folder = site.root / "hub"
    doc = hub_config(
        workdir=folder, mqtt_port=site.mosquitto.port, influx_url=site.influxdb.url,
        api_port=int(site.api.rsplit(":", 1)[1]), homes=site.homes, database=site.database,
        secret=site.secret, sites=site.sites,
        caregivers=[CaregiverSpec(c.id, c.name, c.site, [site.sink.url(c.id)], role=c.role)
                    for c in site.caregivers])
    registry = {key: doc.pop(key) for key in REGISTRY_KEYS if key in doc}
    doc["mqtt"]["ingest_workers"] = workers
    if workers > 1:  # as broker-init does for a hub with workers: a user for each
        assert site.hub_credentials is not None
        with site.mosquitto.admin_session() as admin:
            ensure_hub_identity(admin, site.hub_credentials.client_id,
                                site.hub_credentials.password, workers=workers)
    config = write_toml(folder / "hub.toml", doc)
    registry_path = write_toml(folder / "registry.toml", registry)
    importer = Program("hub-import", ["hub", "import-registry", "--config", str(config),
                                      str(registry_path)], folder / "hub.log").start()
    assert importer.process is not None
    if importer.process.wait(import_timeout_s) != 0:
        raise RuntimeError(f"the registry import failed:\n{importer.log_tail()}")
    site.hub = Program("hub", ["hub", "run", "--config", str(config)], folder / "hub.log")
    return site.hub.start()


def wait_for_workers(hub: Program, client_id: str, workers: int, timeout_s: float) -> bool:
    """Wait until the hub's log says every readings lane is subscribed (each has a session
    that the broker queues the backlog's share for)."""
    wanted = [f"as {client_id}{readings_suffix(n)}\n" for n in range(1, workers + 1)]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = hub.log_path.read_text(errors="replace")
        if all(one in text for one in wanted):
            return True
        time.sleep(0.2)
    return False


def hub_drain(root: Path, broker: Mosquitto, influx: InfluxDB,
              homes: dict[str, BrokerCredentials], shares: dict[str, int],
              profile: Path | None = None, workers: int = 1) -> Drain:
    """Run the hub with `workers` ingest workers, kill it, publish the backlog, restart it and
    count."""
    db = f"bench_hub_{workers}w"
    with LocalSite(root / f"hub-site-{workers}w", mosquitto=broker, influxdb=influx,
                   database=db) as site:
        site.homes.extend(HomeSpec(id=home, site="town", resident=f"Resident {home}",
                                   address="Bench") for home in homes)
        hub = start_hub(site, workers)
        assert site.hub_credentials is not None
        if not wait_until_storing(broker, next(iter(homes.values())), influx, db, 120) or \
                not wait_for_workers(hub, site.hub_credentials.client_id, workers, 60):
            raise RuntimeError(f"the hub stored no probe reading within 120 s; its log:\n"
                               f"{hub.log_tail()}")
        hub.kill()
        # The workers see their hub's end and stop; wait, so the sessions queue for them.
        time.sleep(1.0)
        sent = publish_backlog(broker, homes, shares)

        def start() -> int:
            site.hub = Program("hub", hub.args, hub.log_path).start()
            assert site.hub.process is not None
            return site.hub.process.pid

        result = drain(influx, db, sum(shares.values()), start, broker, profile)
        result.published_messages, result.publish_s = sent["messages"], sent["seconds"]
        result.publish_broker_written_mb = sent["broker_written_mb"]
        site.hub.stop()
        result.extra["hub_log_tail"] = site.hub.log_tail(5)
        # Drop the hub's readings sessions, so that later backlogs are not queued for them.
        lane = site.hub_credentials
        for n in range(1, workers + 1):
            wipe = _connect(broker.port, BrokerCredentials(lane.username + readings_suffix(n),
                                                           lane.password,
                                                           lane.client_id + readings_suffix(n)))
            wipe.disconnect()
            wipe.loop_stop()
    return result
