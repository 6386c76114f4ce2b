"""The evaluation harness: scripted bed-days through the real decoders and the detectors,
faster than real time, scored against what really happened.

`bedwatch eval` prints a table for the tuning and the held-out part of the scenario library
and, with `--json PATH`, writes the held-out figures and a summary plot beside them
(`rig/evalplot.py`). Heart and breathing rate are also scored across strip sensor kinds and
sample rates (`rig/evalsensors.py`). The real bed recording in `../shared/data/bcg/` (when
present) gives the heart-rate error against a pulse oximeter.
"""

from __future__ import annotations

import heapq
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bedwatch.kinds import EVALUATED_KINDS
from edge.detectors.activity import ActivityConfig
from edge.detectors.baseline import BaselineDetector
from edge.detectors.cardiorespiratory import estimate_rates
from edge.detectors.occupancy import OccupancyConfig
from edge.detectors.wiring import DetectorsConfig, build
from edge.drivers.bed_sensor import BedSensorConfig, BedSensorDriver
from edge.drivers.bp_cuff import BpCuffConfig, BpCuffDriver
from edge.drivers.call_button import CallButtonConfig, CallButtonDriver
from edge.drivers.fall_mat import FallMatConfig, FallMatDriver
from edge.items import DeviceEvent, Observation, SampleBlock

# The kinds the evaluation scores are marked in the table of kinds; the bed-exit alarm of a
# resident at high fall risk (bed exits that page) is scored as a kind of its own.
BED_EXIT_ALARM = "bed_exit_alarm"
ALERT_KINDS = (*EVALUATED_KINDS, BED_EXIT_ALARM)
# What the registry holds for a resident at high fall risk: bed exits open alerts.
FALL_RISK_RULES = {"bed_exit": {"enabled": True}}
EVAL_FS = 25.0  # enough for the heartbeat band (2–10 Hz) and for occupancy
REAL_RECORDING = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bcg"


@dataclass
class DayResult:
    name: str
    part: str
    events: list[DeviceEvent]
    truth: list[Any]
    hr_errors: list[float] = field(default_factory=list)
    rr_errors: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    seconds: float = 0.0
    call_frames: dict[str, int] = field(default_factory=dict)


CUFF = BpCuffConfig(type="bp_cuff", id="cuff", address="00:1B:DC:00:00:01")


def detectors_for(day: Any, rng: np.random.Generator) -> list[Any]:
    """Return a home's detectors exactly as the agent builds them for its care plan, with the
    nights its baseline has learned."""
    known_weight = day.resident.weight_kg * float(rng.uniform(0.9, 1.1))  # scales differ
    devices = [BedSensorConfig(type="bed_sensor", id="bed", port="sim"),
               FallMatConfig(type="fall_mat", id="floor-mat", port="sim"), CUFF]
    bed_bound = bool(day.care.get("bed_bound"))
    config = DetectorsConfig(
        # A bed-bound resident is never "not up yet": caregivers get them up, or not.
        occupancy=OccupancyConfig(resident_weight_kg=known_weight,
                                  not_up_by_h=None if bed_bound else 9.5),
        activity=ActivityConfig(bed_bound=bed_bound))
    feeds = build(config, devices)
    for feed in feeds:
        owner = getattr(feed, "__self__", None)
        if isinstance(owner, BaselineDetector) and day.learned:
            owner.history = {k: list(v) for k, v in day.learned.items()}
    return feeds


def alarms(day: Any, events: list[DeviceEvent]) -> list[DeviceEvent]:
    """Return the bed exits that page a caregiver under the resident's alert rules."""
    from bedwatch.kinds import RULES
    from hub.alerts.rules import with_override

    rules = FALL_RISK_RULES if day.care.get("fall_risk") == "high" else {}
    rule = with_override(RULES.get("bed_exit"), rules.get("bed_exit"))
    if rule is None or not rule.enabled:
        return []
    return [DeviceEvent(e.device, BED_EXIT_ALARM, e.t, e.data) for e in events
            if e.kind == "bed_exit"]


def _cuff(day: Any) -> Iterator[Observation]:
    """The cuff's readings (history, then the day's) as bytes through the real driver."""
    from datetime import datetime

    from firmware_sim.bp_cuff import Measurement, encode_measurement
    from firmware_sim.scenarios import LOCAL

    async def no_radio() -> None:
        return None

    driver = BpCuffDriver(CUFF, factory=no_radio, clock=lambda: day.t0)
    for r in day.cuff:
        stamp = datetime.fromtimestamp(round(day.t0 + r.offset_s), LOCAL).replace(tzinfo=None)
        data = encode_measurement(Measurement(r.systolic, r.diastolic, pulse=r.pulse,
                                              timestamp=stamp))
        for item in driver.decode(data, day.t0 + r.offset_s):
            if isinstance(item, Observation):
                yield item


def _blocks(stream: Any, driver: Any) -> Iterator[SampleBlock]:
    for t, frame in stream.frames():
        for item in driver.handle_bytes(frame, stream.t0 + t):
            if isinstance(item, SampleBlock):
                yield item


def _calls(day: Any, rng: np.random.Generator, counters: dict[str, int]
           ) -> Iterator[DeviceEvent | Observation]:
    """The call-button receiver's bytes for the day through the real driver."""
    from firmware_sim.call_button import receiver_stream

    driver = CallButtonDriver(CallButtonConfig(type="call_button", id="call-button", port="sim"),
                              clock=lambda: day.t0)
    for t, data in receiver_stream(day.calls, day.t0, rng):
        for item in driver.handle_bytes(data, t):
            if isinstance(item, DeviceEvent | Observation):
                yield item
    counters.update(driver.error_counts())


def _when(item: SampleBlock | Observation | DeviceEvent) -> float:
    return item.t0 if isinstance(item, SampleBlock) else item.t


def run_day(day: Any) -> DayResult:
    """Render one bed-day, send it through the decoders and the detectors, collect events."""
    from firmware_sim.bed_sensor import bed_info
    from firmware_sim.fall_mat import mat_info
    from firmware_sim.physiology import render_bed, render_mat
    from firmware_sim.sampled_board import BoardStream

    rng = np.random.default_rng(day.seed)
    recording = render_bed(day.bed, day.resident, EVAL_FS, rng, t0=day.t0)
    start = time.process_time()
    # Two seconds a frame: the same bytes per sample, fewer frames to frame and check.
    bed_stream = BoardStream(bed_info(EVAL_FS), recording.samples, per_frame=int(2 * EVAL_FS),
                             t0=day.t0)
    bed_driver = BedSensorDriver(BedSensorConfig(type="bed_sensor", id="bed", port="sim"))
    call_frames: dict[str, int] = {}
    sources: list[Iterator[SampleBlock | Observation | DeviceEvent]] = [
        _blocks(bed_stream, bed_driver),
        _calls(day, np.random.default_rng([day.seed, 11]), call_frames), _cuff(day)]
    for offset, script in day.mat_episodes:
        mat = render_mat(script, 10.0, rng, t0=day.t0 + offset)
        stream = BoardStream(mat_info(10.0), mat.samples, per_frame=1, t0=day.t0 + offset)
        sources.append(_blocks(stream, FallMatDriver(FallMatConfig(
            type="fall_mat", id="floor-mat", port="sim"))))
    detectors = detectors_for(day, rng)
    events: list[DeviceEvent] = []
    vitals: list[Observation] = []

    def run(item: SampleBlock | Observation | DeviceEvent) -> None:
        for detector in detectors:
            for out in detector(item):
                if isinstance(out, DeviceEvent):
                    events.append(out)
                elif out.kind == "vitals":
                    vitals.append(out)
                run(out)

    for item in heapq.merge(*sources, key=_when):
        if isinstance(item, DeviceEvent):
            events.append(item)  # driver events (calls) go to the outbox as they are
        run(item)
    cpu = time.process_time() - start
    events += alarms(day, events)
    result = DayResult(day.name, day.part, events, day.truth + _alarm_truths(day), cpu_s=cpu,
                       seconds=len(recording.samples) / EVAL_FS, call_frames=call_frames)
    lying = [(s["start"], s["end"], s["hr_bpm"], s["rr_bpm"]) for s in recording.truth
             if s["kind"] == "lying"]
    for reading in vitals:
        window = (reading.t - 30.0, reading.t)
        for begin, end, hr, rr in lying:
            if begin <= window[0] and window[1] <= end:
                if "heart_rate_bpm" in reading.fields:
                    result.hr_errors.append(abs(float(reading.fields["heart_rate_bpm"]) - hr))
                if "breathing_rate_bpm" in reading.fields:
                    result.rr_errors.append(abs(float(reading.fields["breathing_rate_bpm"]) - rr))
    return result


def _alarm_truths(day: Any) -> list[Any]:
    """Every bed exit of a resident at high fall risk is due an alarm."""
    from dataclasses import replace

    if day.care.get("fall_risk") != "high":
        return []
    return [replace(t, kind=BED_EXIT_ALARM) for t in day.truth if t.kind == "bed_exit"]


def score(results: list[DayResult]) -> dict[str, Any]:
    """Return per-kind sensitivity, false alerts per bed-day, PPV and latencies."""
    days = len(results)
    bed_days = sum(r.seconds for r in results) / 86400.0 or float(days)
    per: dict[str, dict[str, Any]] = {}
    for kind in ALERT_KINDS:
        tp = fp = fn = 0
        latencies: list[float] = []
        for r in results:
            found = sorted(e.t for e in r.events if e.kind == kind)
            wanted = sorted((t for t in r.truth if t.kind == kind), key=lambda t: t.t)
            used: set[int] = set()
            for truth in wanted:
                lo, hi = truth.t + truth.window[0], truth.t + truth.window[1]
                match = next((i for i, t in enumerate(found) if i not in used and lo <= t <= hi),
                             None)
                if match is None:
                    fn += 1
                else:
                    used.add(match)
                    tp += 1
                    due = truth.t + (20.0 if kind == "apnea" else 0.0)
                    latencies.append(found[match] - due)
            fp += len(found) - len(used)
        if tp + fp + fn == 0:
            continue
        per[kind] = {
            "truths": tp + fn, "detected": tp, "false_alerts": fp,
            "sensitivity": round(tp / (tp + fn), 4) if tp + fn else None,
            "false_alerts_per_bed_day": round(fp / bed_days, 4),
            "ppv": round(tp / (tp + fp), 4) if tp + fp else None,
            "latency_p50_s": round(float(np.percentile(latencies, 50)), 2) if latencies else None,
            "latency_p95_s": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
        }
    hr = [e for r in results for e in r.hr_errors]
    rr = [e for r in results for e in r.rr_errors]
    cpu = sum(r.cpu_s for r in results)
    return {
        "detectors": per,
        "hr_mae_bpm": round(float(np.mean(hr)), 3) if hr else None,
        "rr_mae_bpm": round(float(np.mean(rr)), 3) if rr else None,
        "bed_days": days,
        "hours": round(sum(r.seconds for r in results) / 3600.0, 2),
        # The alarm repeats bed exits already counted: not counted twice.
        "false_alerts_per_bed_day": round(sum(p["false_alerts"] for k, p in per.items()
                                              if k != BED_EXIT_ALARM) / bed_days, 4)
        if days else None,
        "call_line": {key: sum(r.call_frames.get(key, 0) for r in results)
                      for key in ("frames", "bad_crc", "garbage_bytes")},
        "x_real_time": round(sum(r.seconds for r in results) / cpu) if cpu else None,
    }


def real_recording_hr(folder: Path = REAL_RECORDING, window_s: float = 30.0
                      ) -> dict[str, float] | None:
    """Heart-rate error on the real recording against its pulse oximeter (None if absent)."""
    path = folder / "sadek_mfos_50hz.csv"
    if not path.exists():
        return None
    data = np.genfromtxt(path, delimiter=",", skip_header=1)
    signal, reference = data[:, 1], data[:, 2]
    fs = 1000.0 / float(np.median(np.diff(data[:, 0])))
    width = int(window_s * fs)
    errors, windows = [], 0
    for start in range(0, len(signal) - width + 1, width):
        windows += 1
        rates = estimate_rates(signal[start:start + width], fs)
        if rates.heart_rate_bpm is not None:
            errors.append(abs(rates.heart_rate_bpm - float(reference[start:start + width].mean())))
    return {"mae_bpm": round(float(np.mean(errors)), 3), "windows": windows,
            "estimated": len(errors)}


def run_eval(part: str = "heldout", json_path: Path | None = None, days: int | None = None,
             seed: int = 2026, sessions: int | None = None,
             plot_path: Path | None = None) -> dict[str, Any]:
    """Run the library (both parts) and the sensor suite with a progress bar, print the
    tables, write the held-out figures as JSON and the summary plot beside it.

    `days` keeps that many bed-days of each part, `sessions` that many sensor sessions of each
    sensor kind; the short sessions of the rarer kinds (`firmware_sim.episodes`) always run.
    The plot goes to `plot_path`, or beside the JSON as `<name>.png`.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from firmware_sim.episodes import episodes
    from firmware_sim.scenarios import library
    from rig.evalsensors import run_session, score_sensors, suite

    scenarios = library(seed)
    chosen = {name: [d for d in scenarios if d.part == name][:days]
              for name in ("tuning", "heldout")}
    strips = {name: suite(name, sessions) for name in ("tuning", "heldout")}
    short = {name: episodes(name) for name in ("tuning", "heldout")}
    console = Console()
    console.width = max(console.width, 120)  # the table stays readable in a log or a pipe
    results: dict[str, list[DayResult]] = {name: [] for name in chosen}
    short_results: dict[str, list[DayResult]] = {name: [] for name in short}
    strip_results: dict[str, list[Any]] = {name: [] for name in strips}
    # Days and sessions are independent: one process per core.
    with ProcessPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool, \
            Progress("[progress.description]{task.description}", BarColumn(),
                     MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                     transient=False) as progress:
        futures: list[tuple[Any, list[Any], Any]] = []
        for name in chosen:
            task = progress.add_task(f"{name} bed-days", total=len(chosen[name]))
            futures += [(pool.submit(run_day, d), results[name], task) for d in chosen[name]]
        for name in short:
            task = progress.add_task(f"{name} short sessions", total=len(short[name]))
            futures += [(pool.submit(run_day, d), short_results[name], task) for d in short[name]]
        for name in strips:
            task = progress.add_task(f"{name} sensor sessions", total=len(strips[name]))
            futures += [(pool.submit(run_session, s), strip_results[name], task)
                        for s in strips[name]]
        for future, into, task in futures:
            into.append(future.result())
            progress.advance(task)
    figures = {name: score(results[name]) for name in chosen}
    for name in strips:
        figures[name]["sensors"] = score_sensors(strip_results[name])
        figures[name]["episodes"] = score(short_results[name])
    real = real_recording_hr()
    print_figures(console, figures, real)
    out = dict(figures[part])
    out["real_recording_hr_mae_bpm"] = real["mae_bpm"] if real else None
    if json_path is not None:
        json_path.write_text(json.dumps(out, indent=2) + "\n")
    if plot_path is None and json_path is not None:
        plot_path = json_path.with_suffix(".png")
    if plot_path is not None:
        from rig.evalplot import summary_plot

        summary_plot(figures[part], plot_path, title=f"bedwatch eval, {part}")
        console.print(f"summary plot: {plot_path}")
    return out


def print_figures(console: Any, figures: dict[str, dict[str, Any]],
                  real: dict[str, float] | None) -> None:
    """Print a table per part: events, then heart rate per sensor kind."""
    from rich.table import Table

    parts = [(name, fig, "bed-days") for name, fig in figures.items()]
    parts += [(name, fig["episodes"], "short sessions") for name, fig in figures.items()
              if fig.get("episodes")]
    for name, fig, what in parts:
        table = Table(title=f"{name} {what}: {fig['bed_days']} ({fig['hours']} h), "
                            f"{fig['x_real_time']}× real time on one core")
        for column in ("event", "truths", "detected", "false", "sensitivity", "FA/bed-day",
                       "PPV", "latency p50 s", "p95 s"):
            table.add_column(column, justify="left" if column == "event" else "right")
        for kind, f in fig["detectors"].items():
            table.add_row(kind, str(f["truths"]), str(f["detected"]), str(f["false_alerts"]),
                          str(f["sensitivity"]), str(f["false_alerts_per_bed_day"]),
                          str(f["ppv"]), str(f["latency_p50_s"]), str(f["latency_p95_s"]))
        console.print(table)
        console.print(f"HR MAE {fig['hr_mae_bpm']} bpm, RR MAE {fig['rr_mae_bpm']} /min, "
                      f"false alerts {fig['false_alerts_per_bed_day']} per bed-day")
        sensors = fig.get("sensors")
        if not sensors:
            continue
        table = Table(title=f"{name}: heart rate per strip sensor, {sensors['sessions']} "
                            "sessions (50–1000 Hz)")
        columns = {"sensor": None, "HR MAE": "hr_mae_bpm", "% >10 off": "hr_off_10_pct",
                   "coverage still": "hr_coverage_still_normal",
                   "coverage weak": "hr_coverage_still_weak",
                   "talk/move abstained or right": "busy_abstained_or_right",
                   "RR MAE": "rr_mae_bpm", "RR coverage": "rr_coverage_still"}
        for column in columns:
            table.add_column(column, justify="left" if column == "sensor" else "right")
        for kind, f in [*sensors["per_sensor"].items(), ("all", sensors["all"])]:
            table.add_row(kind, *(str(f[key]) for key in list(columns.values())[1:]))
        console.print(table)
    if real is None:
        console.print(f"real recording not found in {REAL_RECORDING}: skipped")
    else:
        console.print(f"real recording: HR MAE {real['mae_bpm']} bpm over "
                      f"{real['estimated']} of {real['windows']} 30-s windows")
