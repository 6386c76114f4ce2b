"""A simulated day of three homes at two stations, written through the real hub into a real
InfluxDB, with the eight days before it for the residents' baselines.

Readings, events, agent and device statuses are published over MQTT as each home does; the
hub (in this process, on a clock the script moves) stores them, opens alerts, and writes the
desk's points; caregivers acknowledge, arrive and close alerts through the alert engine. The
script runs compressed: a day in seconds, the hub's clock set to each moment before it acts.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bedwatch import wire
from hub.db import EventRecord
from hub.desk_points import backfill_statements
from rig.stack import InfluxDB, Mosquitto
from tests.hub.conftest import FakeClock, RecordingNotifier, site_config
from tests.livehub import publish

DAY_S = 86400.0
# 2025-11-24 12:00 China time: the day simulated ends here.
T_END = 1_763_956_800.0
T_START = T_END - DAY_S
HISTORY_DAYS = 8
SNAPSHOT_S = 600.0

HOMES = {"home-1": "town", "home-2": "town", "home-3": "village"}
BASE = {"home-1": (62.0, 14.0, 128.0, 82.0), "home-2": (74.0, 17.0, 148.0, 94.0),
        "home-3": (58.0, 12.0, 118.0, 76.0)}


def at_hour(hours: float) -> float:
    """Return the moment `hours` after the simulated day began (12:00 China time)."""
    return T_START + hours * 3600.0


@dataclass
class Step:
    t: float
    action: str
    home: str = ""
    args: dict[str, Any] = field(default_factory=dict)


def readings(rng: np.random.Generator) -> dict[str, list[wire.Reading]]:
    """Return each home's readings: nightly vitals and blood pressure for nine days, the bed's
    load and occupancy for the last."""
    out: dict[str, list[wire.Reading]] = {home: [] for home in HOMES}
    for home, (hr, rr, sys_, dia) in BASE.items():
        rows = out[home]
        for day in range(HISTORY_DAYS + 1):
            night = T_START - (HISTORY_DAYS - day) * DAY_S  # 12:00 local
            for minutes in range(int(9.5 * 60), 19 * 60, 10):  # 21:30 to 07:00 local
                rows.append(wire.Reading(device="bed", kind="vitals", t=night + minutes * 60,
                                         fields={"heart_rate_bpm": float(rng.normal(hr, 3)),
                                                 "breathing_rate_bpm": float(rng.normal(rr, 1)),
                                                 "quality": 0.9}))
            for offset_h in (8.0, 20.0):  # 20:00 and 08:00 local: the cuff, twice a day
                rows.append(wire.Reading(device="cuff", kind="bp", t=night + offset_h * 3600,
                                         fields={"systolic_mmhg": float(rng.normal(sys_, 6)),
                                                 "diastolic_mmhg": float(rng.normal(dia, 4)),
                                                 "pulse_bpm": float(rng.normal(hr, 4))}))
        in_bed = [(at_hour(9.5), at_hour(14.2)), (at_hour(14.4),
                                                               at_hour(19.0))]
        for minute in range(int(DAY_S // 60)):
            t = T_START + minute * 60
            lying = any(a <= t < b for a, b in in_bed)
            rows.append(wire.Reading(device="bed", kind="bed", t=t, fields={
                "load_kg": float(rng.normal(60 if lying else 1.5, 0.3)), "load_sd_kg": 0.2}))
        for a, b in in_bed:
            rows.append(wire.Reading(device="bed", kind="occupancy", t=a,
                                     fields={"state": "in_bed", "load_kg": 60.0}))
            rows.append(wire.Reading(device="bed", kind="occupancy", t=b,
                                     fields={"state": "out", "load_kg": 1.5}))
    return out


def timeline() -> list[Step]:
    """Return what happens in the day, in time order."""
    steps: list[Step] = []
    for home in HOMES:
        for hour in range(0, 24, 2):
            t = T_START + hour * 3600 + 60
            late = home == "home-2" and hour >= 18  # its clock lost sync in the morning
            steps.append(Step(t, "agent", home, {
                "state": "online", "version": "0.0.9" if home == "home-3" else "0.1.0",
                "outbox_depth": hour * 3 if home == "home-3" else 0,
                "clock_synced": not late, "uptime_s": 3600.0 * (hour + 1)}))
            for device, battery in (("bed", None), ("call-button", 80 - hour)):
                steps.append(Step(t + 5, "device", home, {
                    # home-3's bed sensor is unplugged in the morning
                    "device": device, "connected": not (home == "home-3" and device == "bed"
                                                        and hour >= 20),
                    "battery_pct": None if battery is None else
                    (battery - 50 if home == "home-1" else battery),
                    "errors": {"crc": hour // 2} if device == "bed" else {}}))
        for hour in (14.2, 14.4):
            kind = "bed_exit" if hour == 14.2 else "bed_return"
            steps.append(Step(at_hour(hour), "event", home, {"kind": kind,
                                                                    "device": "bed"}))
    # Calls and their handling: (home, kind, at local hour, ack after s, on site after s,
    # resolution); None: nobody did it (yet).
    handled = [("home-1", "call", 15.0, 240, 720, "real"),
               ("home-2", "fall", 17.0, 1080, 2100, "real"),
               ("home-2", "call", 22.0, 120, None, "false_alarm"),
               ("home-3", "call", 10.0, 360, 1500, "false_alarm"),
               ("home-1", "call", 23.0, None, None, None)]
    for n, (home, kind, hour, ack, site, resolution) in enumerate(handled):
        ref = f"a{n}"
        start = at_hour(hour)
        steps.append(Step(start, "event", home, {"kind": kind, "device": "call-button"
                                                  if kind == "call" else "floor-mat",
                                                  "ref": ref}))
        if ack is not None:
            steps.append(Step(start + ack, "ack", home, {"ref": ref}))
        if site is not None:
            steps.append(Step(start + site, "on_site", home, {"ref": ref}))
        if resolution is not None:
            steps.append(Step(start + (site or ack or 0) + 300, "resolve", home,
                              {"ref": ref, "resolution": resolution}))
    steps.append(Step(at_hour(21.0), "event", "home-2",
                      {"kind": "device_silent", "device": "call-button"}))
    steps.append(Step(at_hour(22.5), "agent", "home-3", {"state": "offline"}))
    return sorted(steps, key=lambda s: s.t)


async def fill(tmp_path: Path, broker: Mosquitto, influxdb: InfluxDB, database: str) -> None:
    """Run the day through a hub into `database`."""
    from hub.service import Hub

    hub_id = f"hub-{uuid.uuid4().hex[:6]}"
    credentials = broker.hub_credentials(hub_id)
    config = site_config(
        tmp_path,
        mqtt={"port": broker.port, "client_id": hub_id, "password": credentials.password},
        influx={"url": influxdb.url, "database": database, "flush_interval_s": 0.1},
        flap_hold_s=0, tick_s=0.1,
        sites=[{"id": "town", "name": "Town station", "kind": "urban"},
               {"id": "village", "name": "Village station", "kind": "rural"}],
        homes=[{"id": home, "site": site, "address": f"Road {n}",
                "resident": {"name": f"Resident {n}"}} for n, (home, site)
               in enumerate(HOMES.items(), 1)],
        caregivers=[{"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
                    {"id": "cg-v", "name": "V", "site": "village", "notify": ["json://v/"]}])
    clock = FakeClock(T_START - HISTORY_DAYS * DAY_S)
    hub = Hub(config, clock=clock, notifier=RecordingNotifier())
    hub.desk.every_s = SNAPSHOT_S
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop, serve_api=False))
    try:
        async with asyncio.timeout(15):
            while not hub.ingest.connected:
                await asyncio.sleep(0.02)
        await hub.desk.ensure_schema()
        await _publish_readings(hub, broker)
        await _run_day(hub, clock, broker)
        async with asyncio.timeout(30):
            while hub.writer.pending:
                await asyncio.sleep(0.05)
        for statement in backfill_statements(database, T_START - HISTORY_DAYS * DAY_S, T_END):
            await hub.writer.query(statement)
    finally:
        stop.set()
        await task


async def _publish_readings(hub: Any, broker: Mosquitto) -> None:
    rng = np.random.default_rng(14)
    messages = []
    for home, rows in readings(rng).items():
        for seq, start in enumerate(range(0, len(rows), 1000)):
            batch = wire.ReadingBatch(agent=home, seq=seq, readings=rows[start:start + 1000])
            messages.append((wire.readings_topic(home), wire.encode(batch)))
    before = hub.ingest.counters["accepted"]
    await publish(broker, *messages)
    async with asyncio.timeout(60):
        while hub.ingest.counters["accepted"] < before + len(messages) or hub.writer.pending:
            await asyncio.sleep(0.05)


async def _run_day(hub: Any, clock: FakeClock, broker: Mosquitto) -> None:
    alerts: dict[str, int] = {}
    steps = timeline()
    slot = T_START
    while slot <= T_END:
        while steps and steps[0].t <= slot:
            step = steps.pop(0)
            clock.t = step.t
            await _act(hub, broker, step, alerts)
        clock.t = slot
        hub.alerts.tick()
        hub.desk.snapshot()
        slot += SNAPSHOT_S


async def _act(hub: Any, broker: Mosquitto, step: Step, alerts: dict[str, int]) -> None:
    home, args = step.home, step.args
    before = hub.ingest.counters["accepted"]
    if step.action == "event":
        event = wire.Event(id=uuid.uuid4().hex, seq=1, t=step.t, device=args["device"],
                           kind=args["kind"], severity=wire.DEFAULT_SEVERITY.get(
                               args["kind"], wire.Severity.LOW))
        await publish(broker, (wire.events_topic(home), wire.encode(event)))
        await _until(lambda: hub.ingest.counters["accepted"] > before)
        if "ref" in args:
            with hub.sessions() as session:
                record = session.get(EventRecord, (home, event.id))
                assert record is not None and record.alert_id is not None, step
                alerts[args["ref"]] = record.alert_id
    elif step.action == "agent":
        status = wire.AgentStatus(agent=home, t=step.t if args["state"] == "online" else None,
                                  **args)
        await publish(broker, (wire.status_topic(home), wire.encode(status)))
        await _until(lambda: hub.ingest.counters["accepted"] > before)
    elif step.action == "device":
        device = wire.DeviceStatus(t=step.t, last_seen=step.t, **args)
        await publish(broker, (wire.device_status_topic(home, args["device"]),
                               wire.encode(device)))
        await _until(lambda: hub.ingest.counters["accepted"] > before)
    else:
        to = {"ack": "acknowledged", "on_site": "on_site", "resolve": "resolved"}[step.action]
        actor = "cg-v" if home == "home-3" else "cg-a"
        hub.alerts.transition(alerts[args["ref"]], to, actor,
                              resolution=args.get("resolution"))


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
