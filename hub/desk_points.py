"""The points the monitoring desk's Grafana dashboards read, besides the readings themselves.

Four measurements, each shaped for the desk's InfluxQL queries (docs/data-model.md lists every
tag and field):

- `alert_state`: each step of an alert's life (opened, acknowledged, on site, resolved,
  escalated, a target breached): times to acknowledge and to arrive, breaches, false alarms;
- `agent_health`: each status of a home unit: online, version, outbox depth, clock;
- `device_health`: each status of a device: battery, last seen, error counters;
- `home_state`: every `every_s` seconds, each registered home's state now: homes by state,
  open alerts and their age, silent devices, alerts per bed-day.

Everything here is best effort: points go to the writer's shed-oldest buffer, an alert change
is handed over only once its transaction commits, and nothing the alert engine does waits for
InfluxDB. A page never depends on the desk's charts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from bedwatch import wire
from hub.db import AgentState, Alert, Home
from hub.lineprotocol import field_value, series_key

if TYPE_CHECKING:
    from hub.alerts.records import Clock
    from hub.influx import InfluxWriter

log = logging.getLogger(__name__)

# Audit actions that are steps of an alert's life the desk charts.
ALERT_CHANGES = frozenset({"opened", "acknowledged", "on_site", "resolved", "escalated",
                           "sla_ack_breached", "sla_arrival_breached"})
# Resolutions a person gives after looking; "test" and "auto" say nothing about false alarms.
_JUDGED = frozenset({"real", "false_alarm", "resolved_remotely"})
_PENDING = "desk_points"  # key of the lines a session holds until it commits
UNKNOWN_SITE = "unknown"
DAY_S = 86400.0

# Raw points stay in the database's default policy (its duration is the organisation's call,
# docs/data-model.md); the hourly and daily roll-ups of the long-range panels (a year of
# trends, contract reports) go to `long`, kept five years.
LONG_RP = "long"
LONG_DURATION = "1825d"
# Continuous queries: name, target measurement, select list, source, GROUP BY time, tags.
CONTINUOUS = (
    ("cq_vitals_1h", "vitals_1h",
     'MEAN("heart_rate_bpm") AS "heart_rate_bpm", STDDEV("heart_rate_bpm") AS '
     '"heart_rate_sd", MEAN("breathing_rate_bpm") AS "breathing_rate_bpm", '
     'STDDEV("breathing_rate_bpm") AS "breathing_rate_sd", COUNT("heart_rate_bpm") AS "n"',
     "vitals", "1h", '"home"'),
    ("cq_alerts_1d", "alert_state_1d",
     'COUNT("alert_id") AS "changes", MEDIAN("seconds_to_ack") AS "ack_median_s", '
     'PERCENTILE("seconds_to_ack", 90) AS "ack_p90_s", MEDIAN("seconds_to_site") AS '
     '"site_median_s", PERCENTILE("seconds_to_site", 90) AS "site_p90_s", '
     'SUM("ack_breach") AS "ack_breaches", SUM("arrival_breach") AS "arrival_breaches", '
     'SUM("false_alarm") AS "false_alarms", COUNT("false_alarm") AS "judged"',
     "alert_state", "1d", '"site", "kind", "severity", "change"'),
    ("cq_home_state_1d", "home_state_1d",
     'SUM("alerts_opened") AS "alerts_opened", SUM("bed_days") AS "bed_days", '
     'SUM("offline") AS "offline_points", COUNT("offline") AS "points"',
     "home_state", "1d", '"site"'),
)


def _line(measurement: str, tags: dict[str, str], fields: dict[str, Any], t: float) -> str:
    values = []
    for name in sorted(fields):
        value = fields[name]
        text = None if value is None else field_value(value)
        if text is not None:
            values.append(f"{name}={text}")
    return f"{series_key(measurement, tags)}{','.join(values)} {round(t * 1e9)}"


def alert_line(alert: Alert, change: str, at: float, site: str,
               detail: dict[str, Any]) -> str:
    """Return the `alert_state` line of one step in an alert's life.

    `seconds_to_ack` is written once, on the step where a person first acknowledged;
    `seconds_to_site` once, on the step where a person arrived: so a median over the
    measurement counts each alert once. `false_alarm` (0/1) only on a person's resolution.
    """
    fields: dict[str, Any] = {"alert_id": alert.id, "level": alert.level,
                              "life_safety": int(wire.is_life_safety(alert.kind)),
                              "seconds_open": max(0.0, at - alert.opened_at)}
    actor = alert.resolved_by if change == "resolved" else alert.acknowledged_by
    by_person = actor not in (None, "system")
    if change in ("acknowledged", "on_site", "resolved") and detail.get("from") == "open" \
            and alert.acknowledged_at is not None and by_person:
        fields["seconds_to_ack"] = alert.acknowledged_at - alert.opened_at
    arrived_now = change == "on_site" or (change == "resolved" and detail.get("from") in (
        "open", "acknowledged"))
    if arrived_now and alert.resolution != "resolved_remotely" and \
            alert.on_site_at is not None and alert.on_site_by not in (None, "system"):
        fields["seconds_to_site"] = alert.on_site_at - alert.opened_at
    if change == "resolved":
        fields["resolution"] = alert.resolution or ""
        if alert.resolution in _JUDGED:
            fields["false_alarm"] = int(alert.resolution == "false_alarm")
    # 0 on opening, 1 on a breach: a station's SUM is its breaches, 0 when it had none.
    if change in ("opened", "sla_ack_breached"):
        fields["ack_breach"] = int(change == "sla_ack_breached")
    if change in ("opened", "sla_arrival_breached"):
        fields["arrival_breach"] = int(change == "sla_arrival_breached")
    tags = {"site": site, "home": alert.home, "kind": alert.kind,
            "severity": alert.severity, "state": alert.state, "change": change}
    return _line("alert_state", tags, fields, at)


def agent_line(home: str, site: str, status: wire.AgentStatus, at: float,
               received_at: float) -> str:
    """Return the `agent_health` line of one status of a home unit."""
    fields: dict[str, Any] = {
        "online": int(status.state == "online"), "version": status.version,
        "uptime_s": status.uptime_s, "outbox_depth": status.outbox_depth,
        # 1 synchronised, 0 not, -1 not said (the last will carries no clock state).
        "clock_synced": -1 if status.clock_synced is None else int(status.clock_synced),
        "degraded": ",".join(status.degraded), "devices": len(status.devices)}
    if status.t is not None:  # the unit's clock against the hub's, delivery delay included
        fields["clock_offset_s"] = status.t - received_at
    return _line("agent_health", {"site": site, "home": home}, fields, at)


def device_line(home: str, site: str, status: wire.DeviceStatus, at: float) -> str:
    """Return the `device_health` line of one device status (at the hub's time)."""
    errors = sum(status.errors.values())
    fields: dict[str, Any] = {"connected": int(status.connected),
                              "battery_pct": None if status.battery_pct is None
                              else float(status.battery_pct),
                              "errors_total": errors, "last_seen": status.last_seen}
    fields.update({f"errors_{name}"[:48]: count for name, count in status.errors.items()})
    return _line("device_health", {"site": site, "home": home, "device": status.device},
                 fields, at)


_SEVERITY_RANK = {"critical": 3, "high": 2, "low": 1, "info": 0}


def home_state_lines(session: Session, now: float, covered_s: float) -> list[str]:
    """Return one `home_state` line per active home: its state now, what is open, how long.

    `covered_s` is the interval of the snapshots: the point stands for that share of a
    bed-day (`bed_days`), with the alerts opened in the interval before it (`alerts_opened`),
    so alerts per bed-day is `SUM(alerts_opened) / SUM(bed_days)` over any range.
    """
    # Columns, not entities: 10,000 homes as ORM objects took a third of a second.
    homes = session.execute(select(Home.id, Home.site_id).where(Home.active)).all()
    agents = dict(session.execute(select(AgentState.home, AgentState.state)).tuples().all())
    open_by_home: dict[str, list[Alert]] = {}
    for alert in session.scalars(select(Alert).where(Alert.state != "resolved")):
        open_by_home.setdefault(alert.home, []).append(alert)
    opened: dict[str, int] = {}
    for opened_in in session.scalars(select(Alert.home).where(
            Alert.opened_at > now - covered_s, Alert.opened_at <= now)):
        opened[opened_in] = opened.get(opened_in, 0) + 1
    lines = []
    for home_id, site_id in homes:
        online = agents.get(home_id) == "online"
        alerts = open_by_home.get(home_id, [])
        silent = sorted({a.data.get("device", a.device) or "?" for a in alerts
                         if a.kind == "device_silent"})
        # Someone must go or call: a paging alert that is not about the equipment's silence.
        people = [a for a in alerts if a.paging and a.kind not in ("device_silent",
                                                                   "agent_offline")]
        unacked = [a for a in alerts if a.state == "open"]
        state = "open_alert" if people else "device_silent" if silent else \
            "online" if online else "offline"
        worst = max((_SEVERITY_RANK.get(a.severity, 0) for a in alerts), default=0)
        # Sort key for the desk's table: what is open and how bad, then blind homes.
        urgency = worst * 10 + (5 if state == "open_alert" else 3 if not online else
                                2 if silent else 0)
        counts = {s: sum(1 for a in alerts if a.severity == s) for s in ("critical", "high",
                                                                          "low")}
        fields: dict[str, Any] = {
            "state": state, "urgency": urgency,
            "online": int(online), "offline": int(not online),
            "device_silent": int(bool(silent)), "open_alert": int(bool(people)),
            "silent_devices": ",".join(silent), "open_alerts": len(alerts),
            "open_critical": counts["critical"], "open_high": counts["high"],
            "open_low": counts["low"],
            "oldest_unacked_s": max((now - a.opened_at for a in unacked), default=0.0),
            "alerts_opened": opened.get(home_id, 0), "bed_days": covered_s / DAY_S}
        lines.append(_line("home_state", {"site": site_id, "home": home_id}, fields, now))
    return lines


def note_alert_change(session: Session, alert: Alert, change: str, at: float,
                      detail: dict[str, Any]) -> None:
    """Hold the desk's point of an alert change until the session commits.

    Called for every audited action; only the steps in `ALERT_CHANGES` make a point.
    """
    if change not in ALERT_CHANGES:
        return
    with session.no_autoflush:
        home = session.get(Home, alert.home)
    site = home.site_id if home is not None else UNKNOWN_SITE
    session.info.setdefault(_PENDING, []).append(alert_line(alert, change, at, site, detail))


def retention_statements(database: str) -> list[str]:
    """Return the InfluxQL that creates the retention policies and continuous queries.

    `CREATE RETENTION POLICY` and `CREATE CONTINUOUS QUERY` succeed when the same one exists,
    so running them at every start is idempotent.
    """
    db = f'"{database}"'
    statements = [f'CREATE RETENTION POLICY "{LONG_RP}" ON {db} DURATION {LONG_DURATION} '
                  "REPLICATION 1"]
    for name, target, select_list, source, every, tags in CONTINUOUS:
        # The source without a policy: the database's default, where the hub writes.
        statements.append(
            f'CREATE CONTINUOUS QUERY "{name}" ON {db} BEGIN SELECT {select_list} '
            f'INTO {db}."{LONG_RP}"."{target}" FROM "{source}" '
            f"GROUP BY time({every}), {tags} END")
    return statements


def backfill_statements(database: str, start_s: float, end_s: float) -> list[str]:
    """Return the InfluxQL that runs every continuous query once over a past range.

    A continuous query only covers time from its creation on; after an upgrade, or to
    rebuild the roll-ups, these fill `long` from the raw points already held.
    """
    db = f'"{database}"'
    window = f"time >= {round(start_s * 1000)}ms AND time < {round(end_s * 1000)}ms"
    return [f'SELECT {select_list} INTO {db}."{LONG_RP}"."{target}" FROM "{source}" '
            f"WHERE {window} GROUP BY time({every}), {tags}"
            for _, target, select_list, source, every, tags in CONTINUOUS]


class DeskPoints:
    """Write the desk's points through the hub's InfluxDB writer, never in the alarm's way."""

    def __init__(self, writer: InfluxWriter, sessions: sessionmaker[Session], clock: Clock,
                 *, every_s: float = 60.0) -> None:
        self.writer = writer
        self.clock = clock
        self.sessions = sessions
        self.every_s = every_s
        self._sites: dict[str, str] = {}
        self.schema_ready = False
        event.listen(sessions, "after_commit", self._committed)
        event.listen(sessions, "after_rollback", self._rolled_back)

    def _committed(self, session: Session) -> None:
        lines: list[str] = session.info.pop(_PENDING, [])
        if lines:
            self.writer.add(lines)

    @staticmethod
    def _rolled_back(session: Session) -> None:
        session.info.pop(_PENDING, None)

    def site_of(self, home: str) -> str:
        """Return the station serving a home, from the last snapshot's view of the registry."""
        return self._sites.get(home, UNKNOWN_SITE)

    def agent_status(self, home: str, status: wire.AgentStatus, received_at: float) -> None:
        """Chart a home unit's status at its own time when plausible, so that hubs sharing
        ingest write the same point (the will has no time: the hub's is used)."""
        at = status.t if status.t is not None and wire.plausible_time(status.t) else received_at
        self.writer.add([agent_line(home, self.site_of(home), status, at, received_at)])

    def device_status(self, home: str, status: wire.DeviceStatus, at: float) -> None:
        """Chart a device's status (at its own time when plausible, else the hub's)."""
        self.writer.add([device_line(home, self.site_of(home), status, at)])

    def snapshot(self) -> int:
        """Write every home's state now; return how many homes.

        Stamped at the start of the current interval: hubs sharing one database write the
        same points, which InfluxDB keeps once.
        """
        lines = self._snapshot_lines()
        self.writer.add(lines)
        return len(lines)

    def _snapshot_lines(self) -> list[str]:
        slot = self.clock.now() // self.every_s * self.every_s
        with self.sessions() as session:
            self._sites = {home: site for home, site in
                           session.execute(select(Home.id, Home.site_id))}
            return home_state_lines(session, slot, self.every_s)

    async def ensure_schema(self) -> None:
        """Create the retention policies and continuous queries (idempotent)."""
        await self.writer.ensure_database()
        for statement in retention_statements(self.writer.config.database):
            await self.writer.query(statement)
        self.schema_ready = True

    async def run(self, stop: asyncio.Event) -> None:
        """Snapshot every `every_s` seconds until stopped; set up the schema when reachable."""
        while not stop.is_set():
            if not self.schema_ready:
                try:
                    await self.ensure_schema()
                except Exception as exc:  # InfluxDB away: the charts wait, nothing else does
                    log.debug("desk schema not set up yet: %s", exc)
            try:  # read beside the loop: a fleet's homes are thousands of rows
                self.writer.add(await asyncio.to_thread(self._snapshot_lines))
            except Exception:
                log.exception("desk snapshot failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)
