"""The scenario library: scripted bed-days of different residents, drawn from a seed.

A bed-day runs 24 h from 20:00 local time: an evening out of bed, a night with turns, toilet
trips, apnea episodes for some, the morning rise and a day with naps, visitors sitting on the
bed and walks past the floor mat. Some days carry a fall on the mat during a night trip, some
a sensor fault, some a night trip that ends out of the mat's sight, some a late morning in
bed; call-button presses come at any hour and after half the falls. Other kinds of day script
the events that are rarer: heart and breathing rates out of range for minutes (`vitals`), a
bed-bound resident whose turning is late (`bedbound`, `reposition_due`), an afternoon without
any movement (`inactive`), blood-pressure readings in grade 2, in crisis and rising
(`bp`), a night far from the resident's own baseline (`drift`), a resident at high risk of
falls whose every bed exit pages a caregiver (`fall_risk`). Every day also brings its cuff
readings and the nights its baseline has learned (`histories.py`). Every day knows what
really happened (`truth`), so detectors can be scored.

The library is split by seed into a tuning part and a held-out part; the held-out days are
never used while choosing thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from edge.detectors.activity import ActivityConfig
from edge.detectors.occupancy import OccupancyConfig, in_hours
from firmware_sim.histories import CuffReading, cuff_readings, cuff_truths, learned_nights
from firmware_sim.physiology import Resident, Segment

LOCAL = timezone(timedelta(hours=8))
DAY_S = 24 * 3600.0
DAY_START_H = 20  # a bed-day starts at 20:00 local time
NIGHT = OccupancyConfig()  # the night hours and not-returned limit the truth is written for
DAYTIME = ActivityConfig()  # the inactivity limit and daytime hours, likewise
# Rates out of range for minutes (bpm, /min): each scores 3 in one NEWS2 parameter
# (HR ≤ 40 or ≥ 131, RR ≤ 8 or ≥ 25), so each is also a `news2_medium`.
EPISODES = {"bradycardia": ("hr_bpm", 38.0, 40.0), "tachycardia": ("hr_bpm", 132.0, 145.0),
            "bradypnea": ("rr_bpm", 6.0, 7.5), "tachypnea": ("rr_bpm", 30.0, 34.0)}


def _is_night(offset_s: float) -> bool:
    """Whether a moment of a bed-day (seconds from its start) lies in the night hours."""
    hour = (DAY_START_H + offset_s / 3600.0) % 24.0
    return in_hours(hour, NIGHT.night_start_h, NIGHT.night_end_h)


def _offset(hour: float) -> float:
    """Seconds from a bed-day's start to a local hour of the next morning."""
    return (hour + 24 - DAY_START_H) * 3600


@dataclass
class Truth:
    kind: str
    t: float  # when it happened (UTC seconds)
    window: tuple[float, float]  # a detection inside [t + lo, t + hi] counts
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class BedDay:
    name: str
    part: str  # "tuning" or "heldout"
    seed: int
    t0: float
    resident: Resident
    bed: list[Segment]
    mat_episodes: list[tuple[float, list[Segment]]]  # (start offset s, script)
    truth: list[Truth]
    kind: str
    calls: list[float] = field(default_factory=list)  # call-button presses (offset s)
    # The care plan: bed_bound (reposition reminders), fall_risk ("high": bed exits page).
    care: dict[str, Any] = field(default_factory=dict)
    cuff: list[CuffReading] = field(default_factory=list)  # history, then the day's readings
    learned: dict[str, list[float]] = field(default_factory=dict)  # the baseline's nights


PROFILES = {
    "quiet": dict(restlessness=0.1, turns_per_h=(0.5, 1.5)),
    "restless": dict(restlessness=0.6, turns_per_h=(3.0, 6.0)),
}


def _build(name: str, part: str, seed: int, day_index: int, kind: str) -> BedDay:
    rng = np.random.default_rng(seed)
    resident = Resident(weight_kg=float(rng.choice([45, 52, 60, 68, 78, 92])),
                        hr_bpm=float(rng.uniform(52, 88)), hrv=float(rng.uniform(0.02, 0.06)),
                        rr_bpm=float(rng.uniform(10, 20)),
                        restlessness=0.6 if kind == "restless" else float(rng.uniform(0.05, 0.3)))
    t0 = datetime(2026, 3, 1, DAY_START_H, 0, tzinfo=LOCAL).timestamp() + day_index * DAY_S
    if kind == "bedbound":
        return _build_bedbound(name, part, seed, t0, resident)
    # The rarer events draw from their own randomness, so the days keep their shape.
    rare_rng = np.random.default_rng([seed, 8])
    bed: list[Segment] = []
    mat: list[tuple[float, list[Segment]]] = []
    truth: list[Truth] = []
    clock = 0.0
    falls_at: list[float] = []
    # Its own randomness, so the days drawn before this was added keep their shape.
    sight_rng = np.random.default_rng([seed, 5])
    late_rng = np.random.default_rng([seed, 6])

    def add(segment: Segment) -> float:
        nonlocal clock
        start = clock
        bed.append(segment)
        clock += segment.duration_s
        return start

    def exit_truth(start: float, duration: float) -> None:
        # The weight is half gone this far into getting up (physiology: ramp to 0 at 1/1.3).
        truth.append(Truth("bed_exit", t0 + start + duration * 0.5 / 1.3, (-1.0, 5.0)))

    def not_returned_truth(start: float) -> None:
        # Due the not-returned limit after the exit (the weight half gone, as above).
        truth.append(Truth("not_returned", t0 + start + 1.15 + NIGHT.not_returned_s,
                           (-5.0, 15.0)))

    evening = float(rng.uniform(1.5, 3.5)) * 3600
    add(Segment("empty", evening / 2))
    if kind == "visitor" or rng.random() < 0.3:
        add(Segment("partner_sitting", float(rng.uniform(60, 300))))
    if rng.random() < 0.3:
        add(Segment("object_on_bed", float(rng.uniform(120, 900)),
                    {"weight_kg": float(rng.uniform(3, 12))}))
    add(Segment("empty", max(60.0, evening - clock)))
    mat.append((clock - 20, [Segment("footsteps", 8), Segment("standing", 6)]))
    add(Segment("lying_down", 4))
    rise = float(rng.uniform(6.5, 8.5)) * 3600 + _offset(0) - clock  # rise 06:30–08:30
    night_end = clock + rise
    n_trips = int(rng.integers(1 if kind == "fall" else 0, 3))
    trips = sorted(rng.uniform(clock + 1800, night_end - 3600, size=n_trips))
    fall_trip = int(rng.integers(len(trips))) if kind == "fall" and trips else None
    apneas = int(rng.integers(3, 7)) if kind == "apnea" else 0
    if kind == "fall_risk" and not trips:
        trips = [float(rare_rng.uniform(clock + 1800, night_end - 3600))]
    turns = PROFILES["restless" if kind == "restless" else "quiet"]["turns_per_h"]
    plan: list[tuple[float, str]] = [(float(t), "trip") for t in trips]
    plan += [(float(t), "turn") for t in rng.uniform(clock + 300, night_end - 300,
                                                       size=int(rng.uniform(*turns) * rise / 3600))]
    plan += [(float(t), "apnea") for t in rng.uniform(clock + 900, night_end - 900, size=apneas)]
    plan += [(float(t), "short_pause") for t in rng.uniform(clock + 900, night_end - 900,
                                                            size=int(rng.integers(0, 4)))]
    if kind == "fault":
        plan.append((float(rng.uniform(clock + 3600, night_end - 3600)), "fault"))
    episodes = [str(e) for e in rare_rng.permutation(list(EPISODES))]
    if kind == "vitals":
        # One episode of each kind, one in each quarter of the night.
        quarter = (night_end - clock) / len(EPISODES)
        plan += [(float(rare_rng.uniform(clock + i * quarter + 900, clock + (i + 1) * quarter
                                         - 1500)), "episode") for i in range(len(EPISODES))]
    for when, what in sorted(plan):
        if when < clock + 60 and what != "episode":  # an episode waits for the trip before
            continue
        add(Segment("lying", max(60.0, when - clock)))
        if what == "turn":
            add(Segment("turning", float(rng.uniform(3, 8))))
        elif what == "apnea":
            start = add(Segment("apnea", float(rng.uniform(22, 40))))
            end = start + bed[-1].duration_s
            truth.append(Truth("apnea", t0 + start, (20.0 - 2.0, end - start + 15.0)))
        elif what == "episode":
            episode = episodes.pop()
            measure, low, high = EPISODES[episode]
            duration = float(rare_rng.uniform(480, 900))
            start = add(Segment("lying", duration, {measure: float(rare_rng.uniform(low, high))}))
            # Due once `persistence` windows of the new rate are in: latency from the onset.
            for what_kind in (episode, "news2_medium"):
                truth.append(Truth(what_kind, t0 + start, (30.0, duration + 120.0)))
        elif what == "short_pause":
            add(Segment("apnea", float(rng.uniform(6, 12))))  # normal pauses: no alarm
        elif what == "fault":
            add(Segment(str(rng.choice(["flat", "disconnected"])), float(rng.uniform(120, 600))))
            truth.append(Truth("sensor_fault", t0 + clock - bed[-1].duration_s, (0.0, 30.0)))
        elif what == "trip":
            add(Segment("sitting_edge", float(rng.uniform(10, 40))))
            start = add(Segment("getting_up", 3))
            exit_truth(start, 3)
            falls = fall_trip is not None and trips[fall_trip] == when
            if falls:
                # Half the falls last past the not-returned limit (20 min away from bed).
                on_floor = float(rng.uniform(1300, 2000) if rng.random() < 0.5
                                 else rng.uniform(400, 1000))
                mat_start = clock + float(rng.uniform(5, 20))
                mat.append((mat_start - 2, [Segment("footsteps", 2), Segment("fall", 1.5),
                                            Segment("lying_on_mat", on_floor),
                                            Segment("standing", 5)]))
                fell = t0 + mat_start + 1.5
                falls_at.append(mat_start + 1.5)
                truth.append(Truth("fall", fell, (-1.0, 10.0)))
                if on_floor >= 300:
                    truth.append(Truth("long_lie", fell + 300, (-1.0, 10.0)))
                away = mat_start + on_floor + 120 - clock
                # not_returned is for night hours only (the detector's defaults): a trip
                # that starts after the night has ended is the morning rise.
                if away >= NIGHT.not_returned_s and _is_night(start):
                    not_returned_truth(start)
                add(Segment("empty", away))
            else:
                away = float(rng.uniform(180, 600))
                if _is_night(start) and sight_rng.random() < 0.15:
                    # Out of the mat's sight (a fall in the bathroom, lost in the hall):
                    # only the bed can tell, by the resident not coming back.
                    away = float(sight_rng.uniform(1500, 3600))
                    not_returned_truth(start)
                mat.append((clock + 3, [Segment("footsteps", 4)]))
                mat.append((clock + away - 8, [Segment("footsteps", 4)]))
                add(Segment("empty", away))
            add(Segment("lying_down", 4))
    # Some mornings the resident stays in bed past the not-up-by hour (unwell, low mood): only
    # when they have not been up since the night ended, as the detector is specified.
    up_after_night = any(t.kind == "bed_exit" and t.t - t0 >= _offset(NIGHT.night_end_h)
                         for t in truth)
    if NIGHT.not_up_by_h is not None and not up_after_night and late_rng.random() < 0.2:
        night_end = max(night_end, _offset(float(late_rng.uniform(10.0, 11.5))))
        truth.append(Truth("not_up_by", t0 + _offset(NIGHT.not_up_by_h), (0.0, 120.0)))
    add(Segment("lying", max(60.0, night_end - clock)))
    add(Segment("sitting_edge", float(rng.uniform(20, 120))))
    start = add(Segment("getting_up", 3))
    exit_truth(start, 3)
    mat.append((clock + 3, [Segment("footsteps", 4), Segment("standing", 20)]))
    # The day: walks past the mat, perhaps a nap, until 20:00.
    still_from = _offset(float(rare_rng.uniform(10.0, 14.0))) if kind == "inactive" else None
    quiet: tuple[float, float] | None = None
    while clock < DAY_S - 600:
        gap = float(rng.uniform(1800, 5400))
        if still_from is not None and clock >= still_from and quiet is None:
            # An afternoon in the armchair: nothing moves anywhere for hours.
            gap = DAYTIME.inactivity_s + float(rare_rng.uniform(1800, 3600))
            gap = min(gap, DAY_S - clock - 60)
            # The last sign of life is the walk past the mat that ended just before.
            last = clock - 5.0
            quiet = (clock - 10.0, clock + gap)
            if gap > DAYTIME.inactivity_s + 60:
                truth.append(Truth("inactivity", t0 + last + DAYTIME.inactivity_s,
                                   (-10.0, 60.0)))
            add(Segment("empty", gap))
        elif rng.random() < 0.15 and clock + gap + 5400 < DAY_S:
            add(Segment("empty", gap))
            add(Segment("lying_down", 4))
            add(Segment("lying", float(rng.uniform(1200, 3600))))
            add(Segment("sitting_edge", 20))
            start = add(Segment("getting_up", 3))
            exit_truth(start, 3)
        else:
            add(Segment("empty", min(gap, DAY_S - clock)))
        mat.append((clock - 10, [Segment("footsteps", 5)]))
        if rng.random() < 0.2:
            mat.append((clock - 300, [Segment("pet", 20)]))
        if rng.random() < 0.1:
            mat.append((clock - 600, [Segment("dropped_object", 60)]))
    if clock < DAY_S:
        add(Segment("empty", DAY_S - clock))
    # Call-button presses come from their own stream of randomness, so the rest of the day
    # stays as it was: a few presses at any hour, and a pendant press after half the falls.
    calls_rng = np.random.default_rng([seed, 7])
    presses = int(calls_rng.integers(0, 3))
    calls = [float(t) for t in calls_rng.uniform(60, DAY_S - 60, size=presses)]
    calls += [fall + float(calls_rng.uniform(10, 120)) for fall in falls_at
              if calls_rng.random() < 0.5]
    if quiet is not None:  # nobody pressed anything in the quiet afternoon
        calls = [t for t in calls if not quiet[0] <= t <= quiet[1]]
    calls.sort()
    truth += [Truth("call", t0 + t, (0.0, 1.0)) for t in calls]
    day = BedDay(name, part, seed, t0, resident, bed, mat, truth, kind, calls)
    if kind == "fall_risk":
        day.care["fall_risk"] = "high"
    return _with_histories(day, evening_h=(1.5, 3.5))


def _with_histories(day: BedDay, evening_h: tuple[float, float]) -> BedDay:
    """Add the day's cuff readings and the nights the baseline has learned, with their truths."""
    rng = np.random.default_rng([day.seed, 9])
    events = ("trend", "high", "crisis") if day.kind == "bp" else ()
    day.cuff = cuff_readings(rng, events=events)
    # The cuff stamps its readings to the second.
    day.truth += [Truth(kind, day.t0 + offset, (-1.0, 1.0)) for kind, offset in
                  cuff_truths(day.cuff)]
    usual_hr = day.resident.hr_bpm
    if day.kind == "drift":
        # Tonight the heart runs well above this resident's own nights (an infection, a new
        # drug): judged once the night is over, at the first reading after noon.
        usual_hr -= float(rng.uniform(12, 16))
        noon = _offset(12.0)
        day.truth.append(Truth("trend", day.t0 + noon, (0.0, DAY_S - noon)))
    # Bedtime in the baseline's hours (after noon): 20:00 plus the evening's length.
    day.learned = learned_nights(rng, usual_hr, day.resident.rr_bpm,
                                 (8 + evening_h[0], 8 + evening_h[1]))
    return day


def _build_bedbound(name: str, part: str, seed: int, t0: float, resident: Resident) -> BedDay:
    """A bed-bound resident, turned by a caregiver about every two hours, sometimes late."""
    rng = np.random.default_rng([seed, 10])
    resident = Resident(resident.weight_kg, resident.hr_bpm, resident.hrv, resident.rr_bpm,
                        restlessness=0.05)
    limit = DAYTIME.reposition_s
    # The sheets are changed at 20:00: the bed is empty a moment, then the resident is back.
    bed = [Segment("empty", 120.0), Segment("lying_down", 4.0)]
    clock = 124.0
    truth: list[Truth] = []
    while clock < DAY_S - 900:
        # On time (well inside the limit), or late (well past it): never on the edge.
        late = rng.random() < 0.3
        gap = float(rng.uniform(limit + 900, limit + 3600) if late
                    else rng.uniform(limit - 2400, limit - 600))
        gap = min(gap, DAY_S - clock - 60)
        if gap >= limit + 60:
            # The detector counts from when the legs settle after the turn (a few tens of s).
            truth.append(Truth("reposition_due", t0 + clock + limit, (-30.0, 120.0)))
        bed.append(Segment("lying", gap))
        clock += gap
        if clock < DAY_S - 120:
            turn = float(rng.uniform(20, 40))
            bed.append(Segment("turning", turn))
            clock += turn
    bed.append(Segment("lying", max(1.0, DAY_S - clock)))
    calls_rng = np.random.default_rng([seed, 7])
    calls = sorted(float(t) for t in calls_rng.uniform(60, DAY_S - 60,
                                                       size=int(calls_rng.integers(0, 3))))
    truth += [Truth("call", t0 + t, (0.0, 1.0)) for t in calls]
    day = BedDay(name, part, seed, t0, resident, bed, [], truth, "bedbound", calls,
                 care={"bed_bound": True})
    return _with_histories(day, evening_h=(0.0, 0.1))


KINDS = ("quiet", "restless", "apnea", "fall", "visitor", "fault", "vitals", "bedbound",
         "inactive", "bp", "drift", "fall_risk")


def library(seed: int = 2026, tuning_days: int = 24, heldout_days: int = 12) -> list[BedDay]:
    """Return the scenario library: tuning days, then held-out days from other seeds."""
    days: list[BedDay] = []
    for i in range(tuning_days + heldout_days):
        part = "tuning" if i < tuning_days else "heldout"
        kind = KINDS[i % len(KINDS)]
        day_seed = seed * 1000 + i
        days.append(_build(f"{part}-{i:02d}-{kind}", part, day_seed, i, kind))
    return days
