"""Short scripted sessions, one or a few per rare event kind, scored like bed-days.

The scenario library's bed-days carry these events too, but a bed-day takes the better part
of a CPU minute to render and run; these sessions hold only the minutes around the event
(twenty minutes for a rate episode, four and a half hours of an empty flat for inactivity),
so that a test or a quick look scores every rarely exercised kind in seconds. Each session is
a `BedDay` (its `truth`, `care`, cuff readings and learned nights), so the evaluation runs it
unchanged. Tuning and held-out sessions come from different seeds.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from firmware_sim.histories import cuff_readings, cuff_truths, learned_nights
from firmware_sim.physiology import Resident, Segment
from firmware_sim.scenarios import (
    DAYTIME,
    EPISODES,
    LOCAL,
    BedDay,
    Truth,
)

INTO_BED = [Segment("empty", 60.0), Segment("lying_down", 4.0)]
IN_BED_AT = 60.0 + 4.0 / 1.3  # the weight is all on the bed this far in (physiology's ramp)


def _t0(day_index: int, hour: float) -> float:
    start = datetime(2026, 6, 1, 0, 0, tzinfo=LOCAL).timestamp()
    return start + day_index * 86400.0 + hour * 3600.0


def _resident(rng: np.random.Generator) -> Resident:
    return Resident(weight_kg=float(rng.choice([48, 55, 63, 72, 85])),
                    hr_bpm=float(rng.uniform(56, 84)), hrv=float(rng.uniform(0.02, 0.05)),
                    rr_bpm=float(rng.uniform(11, 18)), restlessness=0.1)


def _day(name: str, part: str, seed: int, t0: float, resident: Resident,
         bed: list[Segment], truth: list[Truth], kind: str, **extra: object) -> BedDay:
    day = BedDay(name, part, seed, t0, resident, bed, [], truth, kind)
    for key, value in extra.items():
        setattr(day, key, value)
    return day


def rate_episode(part: str, seed: int, index: int, episode: str,
                 value: float | None = None) -> BedDay:
    """Ten minutes or so of a rate out of range in the middle of a quiet night.

    `value` sets the rate of the episode (bpm or breaths a minute); by default it is drawn
    from the library's range for that kind.
    """
    rng = np.random.default_rng(seed)
    measure, low, high = EPISODES[episode]
    settle, duration = float(rng.uniform(240, 360)), float(rng.uniform(480, 660))
    rate = float(rng.uniform(low, high))
    bed = [*INTO_BED, Segment("lying", settle),
           Segment("lying", duration, {measure: rate if value is None else value}),
           Segment("lying", 180.0)]
    t0 = _t0(index, 1.0 + float(rng.uniform(0, 2)))
    onset = t0 + 64.0 + settle
    truth = [Truth(kind, onset, (30.0, duration + 120.0)) for kind in (episode, "news2_medium")]
    return _day(f"{part}-{episode}", part, seed, t0, _resident(rng), bed, truth, "vitals")


def fall_risk(part: str, seed: int, index: int) -> BedDay:
    """A resident at high fall risk gets up in the night: the bed exit pages."""
    rng = np.random.default_rng(seed)
    lying = float(rng.uniform(400, 700))
    bed = [*INTO_BED, Segment("lying", lying), Segment("sitting_edge", float(rng.uniform(10, 30)))]
    getting_up = 64.0 + lying + bed[-1].duration_s
    bed += [Segment("getting_up", 3.0), Segment("empty", float(rng.uniform(200, 400))),
            Segment("lying_down", 4.0), Segment("lying", 240.0)]
    t0 = _t0(index, 2.0 + float(rng.uniform(0, 2)))
    truth = [Truth("bed_exit", t0 + getting_up + 3.0 * 0.5 / 1.3, (-1.0, 5.0))]
    return _day(f"{part}-fall-risk", part, seed, t0, _resident(rng), bed, truth, "fall_risk",
                care={"fall_risk": "high"})


def bedbound(part: str, seed: int, index: int) -> BedDay:
    """A bed-bound resident whose turning is late: the reminder is due two hours after the
    last one."""
    rng = np.random.default_rng(seed)
    late = DAYTIME.reposition_s + float(rng.uniform(600, 1200))
    bed = [*INTO_BED, Segment("lying", late), Segment("turning", 30.0), Segment("lying", 300.0)]
    t0 = _t0(index, 20.0)
    # The detector counts from when the legs settle after lying down (a few tens of s).
    truth = [Truth("reposition_due", t0 + IN_BED_AT + DAYTIME.reposition_s, (-30.0, 120.0))]
    return _day(f"{part}-bedbound", part, seed, t0, _resident(rng), bed, truth, "bedbound",
                care={"bed_bound": True})


def inactive(part: str, seed: int, index: int) -> BedDay:
    """A morning walk past the floor mat, then nothing moves for hours."""
    rng = np.random.default_rng(seed)
    quiet = DAYTIME.inactivity_s + float(rng.uniform(900, 1800))
    bed = [Segment("empty", 120.0 + quiet)]
    walk_at = 60.0
    mat = [(walk_at, [Segment("footsteps", 5.0)])]
    t0 = _t0(index, 9.0 + float(rng.uniform(0, 1)))
    truth = [Truth("inactivity", t0 + walk_at + 5.0 + DAYTIME.inactivity_s, (-10.0, 60.0))]
    day = _day(f"{part}-inactive", part, seed, t0, _resident(rng), bed, truth, "inactive")
    day.mat_episodes = mat
    return day


def blood_pressure(part: str, seed: int, index: int) -> BedDay:
    """Ten days of the cuff, then a rising week ends in a grade-2 morning and a crisis."""
    rng = np.random.default_rng(seed)
    t0 = _t0(index, 7.0)
    # The day's readings (history before): the morning one a few minutes in.
    readings = cuff_readings(rng, events=("trend", "high", "crisis"))
    shift = -11.5 * 3600 + 1800.0
    readings = [type(r)(r.offset_s + shift, r.systolic, r.diastolic, r.pulse) for r in readings]
    truth = [Truth(kind, t0 + offset, (-1.0, 1.0)) for kind, offset in cuff_truths(readings)]
    bed = [Segment("empty", 3600.0)]
    return _day(f"{part}-bp", part, seed, t0, _resident(rng), bed, truth, "bp", cuff=readings)


def drift(part: str, seed: int, index: int) -> BedDay:
    """A late morning in bed with the heart well above this resident's own nights: judged when
    the night is over, at noon."""
    rng = np.random.default_rng(seed)
    resident = _resident(rng)
    t0 = _t0(index, 11.0)
    bed = [*INTO_BED, Segment("lying", 3600.0 + 600.0)]
    # Bedtime in the baseline's hours (after noon): this session goes to bed at 11:00.
    learned = learned_nights(rng, resident.hr_bpm - float(rng.uniform(12, 16)),
                             resident.rr_bpm, (22.9, 23.2))
    # Still in bed after the not-up-by hour (09:30) as well.
    truth = [Truth("trend", t0 + 3600.0, (0.0, 600.0)),
             Truth("not_up_by", t0 + IN_BED_AT, (0.0, 120.0))]
    return _day(f"{part}-drift", part, seed, t0, resident, bed, truth, "drift", learned=learned)


def episodes(part: str = "heldout") -> list[BedDay]:
    """Return the short sessions of a part: every rate episode, the fall-risk bed exit, the
    late turn, the still afternoon, the cuff's events and a drifting night."""
    base = {"tuning": 51_000, "heldout": 62_000}[part]
    out = [rate_episode(part, base + i, i, e) for i, e in enumerate(EPISODES)]
    makers = (fall_risk, bedbound, inactive, blood_pressure, drift)
    out += [make(part, base + 10 + i, 10 + i) for i, make in enumerate(makers)]
    return out
