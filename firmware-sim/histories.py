"""What a resident brings to a bed-day: the cuff readings of the days before and the nights the
baseline has already learned, with the truths they imply for the day.

A resident measures blood pressure twice a day (morning and evening) on a Bluetooth cuff; the
ten days before the bed-day are history, the day's own two readings are scored. Some days
carry a week of rising pressure (`trend`), a reading in grade 2 (`bp_high`) or in the crisis
range (`bp_crisis`). Which reading is which category is decided by the guideline tables
(`edge.detectors.bp.classify`, China 2018), and when a trend is due by its definition: the
mean of the last five systolic readings at least 15 mmHg above the mean of the first fourteen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.detectors.bp import BpConfig, classify

DAY_S = 24 * 3600.0
CUFF = BpConfig()  # the settings the truth is written for
HISTORY_DAYS = 10
READ_AT_H = (11.5, 22.5)  # hours after the bed-day's 20:00 start: 07:30 and 18:30


@dataclass(frozen=True)
class CuffReading:
    offset_s: float  # from the bed-day's start; negative for the days before
    systolic: float
    diastolic: float
    pulse: float


def cuff_readings(rng: np.random.Generator, *, events: tuple[str, ...] = ()
                  ) -> list[CuffReading]:
    """Return ten days of history and the day's two readings; `events` of "trend", "high",
    "crisis" script the day (a rise from two readings before it, the morning reading in
    grade 2, the evening reading in the crisis range)."""
    usual_sys, usual_dia = float(rng.uniform(112, 132)), float(rng.uniform(68, 80))
    times = [day * DAY_S + h * 3600 + float(rng.uniform(-1200, 1200))
             for day in range(-HISTORY_DAYS, 1) for h in READ_AT_H]
    out: list[CuffReading] = []
    for i, t in enumerate(times):
        rise = 24.0 if "trend" in events and i >= len(times) - 4 else 0.0
        systolic = usual_sys + rise + float(rng.normal(0, 5))
        diastolic = usual_dia + rise / 3 + float(rng.normal(0, 3.5))
        if i == len(times) - 2 and "high" in events:
            systolic, diastolic = float(rng.uniform(162, 176)), float(rng.uniform(88, 98))
        if i == len(times) - 1 and "crisis" in events:
            systolic, diastolic = float(rng.uniform(186, 205)), float(rng.uniform(100, 115))
        out.append(CuffReading(t, round(systolic), round(diastolic),
                               round(float(rng.uniform(58, 84)))))
    return out


def cuff_truths(readings: list[CuffReading]) -> list[tuple[str, float]]:
    """Return (kind, offset s) of every event the readings call for, by the guideline and the
    trend's definition."""
    order = ["normal", "high_normal", "grade_1", "grade_2", "grade_3"]
    truths: list[tuple[str, float]] = []
    systolic: list[float] = []
    trend_open = False
    for r in readings:
        judged = classify(r.systolic, r.diastolic, CUFF.guideline)
        if judged.crisis:
            truths.append(("bp_crisis", r.offset_s))
        elif order.index(judged.category) >= order.index(CUFF.alert_from):
            truths.append(("bp_high", r.offset_s))
        systolic.append(r.systolic)
        base = systolic[:CUFF.baseline_readings]
        recent = systolic[CUFF.baseline_readings:][-CUFF.recent_readings:]
        if len(base) == CUFF.baseline_readings and len(recent) == CUFF.recent_readings:
            rising = np.mean(recent) - np.mean(base) >= CUFF.trend_rise_mmhg
            if rising and not trend_open:
                truths.append(("trend", r.offset_s))
            trend_open = bool(rising)
    return truths


def learned_nights(rng: np.random.Generator, hr_bpm: float, rr_bpm: float,
                   bedtime_h: tuple[float, float], nights: int = 14) -> dict[str, list[float]]:
    """Return the nightly medians a baseline has learned (`edge.detectors.baseline` units:
    bedtime in hours after noon)."""
    return {"heart_rate_bpm": [round(float(v), 1) for v in rng.normal(hr_bpm, 1.2, nights)],
            "breathing_rate_bpm": [round(float(v), 1) for v in rng.normal(rr_bpm, 0.4, nights)],
            "bedtime_h": [round(float(v), 2) for v in rng.uniform(*bedtime_h, nights)]}
