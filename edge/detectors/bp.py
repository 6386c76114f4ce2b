"""Blood-pressure categories by guideline, and a detector for crises and a resident's trend.

Tables: China 2018 guideline (kept by the 2024 revision, the default), ACC/AHA 2017 and
ESC/ESH 2018 office thresholds, in mmHg. When systolic and diastolic fall in different
categories, the higher one counts. Crisis: above 180 systolic or 120 diastolic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.items import DetectorInput, DetectorOutput, DeviceEvent, Observation

Guideline = Literal["cn2018", "acc_aha2017", "esc2018"]

# (lower bound, category) in ascending order, for systolic and for diastolic.
_TABLES: dict[str, tuple[list[tuple[float, str]], list[tuple[float, str]]]] = {
    "cn2018": (
        [(0, "normal"), (120, "high_normal"), (140, "grade_1"), (160, "grade_2"),
         (180, "grade_3")],
        [(0, "normal"), (80, "high_normal"), (90, "grade_1"), (100, "grade_2"),
         (110, "grade_3")],
    ),
    "acc_aha2017": (
        [(0, "normal"), (120, "elevated"), (130, "stage_1"), (140, "stage_2")],
        [(0, "normal"), (80, "stage_1"), (90, "stage_2")],
    ),
    "esc2018": (
        [(0, "optimal"), (120, "normal"), (130, "high_normal"), (140, "grade_1"),
         (160, "grade_2"), (180, "grade_3")],
        [(0, "optimal"), (80, "normal"), (85, "high_normal"), (90, "grade_1"),
         (100, "grade_2"), (110, "grade_3")],
    ),
}
ORDER = {name: [c for _, c in systolic] for name, (systolic, _) in _TABLES.items()}
CRISIS_SYSTOLIC = 180.0
CRISIS_DIASTOLIC = 120.0


@dataclass(frozen=True)
class BpClass:
    guideline: str
    category: str
    isolated_systolic: bool
    crisis: bool


def _band(value: float, table: list[tuple[float, str]]) -> str:
    category = table[0][1]
    for lower, name in table:
        if value >= lower:
            category = name
    return category


def classify(systolic: float, diastolic: float, guideline: Guideline = "cn2018") -> BpClass:
    """Return the category of a reading under a guideline (the higher of the two wins)."""
    if guideline not in _TABLES:
        raise ValueError(f"unknown guideline {guideline!r}; known: {', '.join(_TABLES)}")
    if not 0 < diastolic <= systolic <= 400:
        raise ValueError(f"implausible reading {systolic}/{diastolic} mmHg")
    sys_table, dia_table = _TABLES[guideline]
    order = ORDER[guideline]
    category = max(_band(systolic, sys_table), _band(diastolic, dia_table), key=order.index)
    return BpClass(guideline=guideline, category=category,
                   isolated_systolic=systolic >= 140 and diastolic < 90,
                   crisis=systolic > CRISIS_SYSTOLIC or diastolic > CRISIS_DIASTOLIC)


class BpConfig(BaseModel):
    """How blood-pressure readings are judged for one resident."""

    model_config = ConfigDict(extra="forbid")

    guideline: Guideline = Field("cn2018", description="Which guideline's categories.")
    alert_from: str = Field("grade_2", description="Category from which a bp_high event is "
                                                   "raised (crisis always raises bp_crisis).")
    baseline_readings: int = Field(14, ge=3, description="Readings that form the baseline.")
    trend_rise_mmhg: float = Field(15.0, gt=0, description="Rise of the recent mean systolic "
                                                           "over the baseline that is a trend.")
    recent_readings: int = Field(5, ge=2, description="Readings in the recent mean.")


class BpDetector:
    """Judge each `bp` reading; report crises, high readings and a rising trend."""

    def __init__(self, config: BpConfig | None = None) -> None:
        self.config = config or BpConfig()
        self._baseline: list[float] = []
        self._recent: deque[float] = deque(maxlen=self.config.recent_readings)
        self._trend_open = False

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        if not isinstance(item, Observation) or item.kind != "bp":
            return []
        systolic = item.fields.get("systolic_mmhg")
        diastolic = item.fields.get("diastolic_mmhg")
        if not isinstance(systolic, (int, float)) or not isinstance(diastolic, (int, float)):
            return []
        try:
            judged = classify(float(systolic), float(diastolic), self.config.guideline)
        except ValueError:
            return []
        evidence = {"systolic_mmhg": systolic, "diastolic_mmhg": diastolic,
                    "category": judged.category, "guideline": judged.guideline}
        out: list[DetectorOutput] = [Observation(item.device, "bp_class", item.t, {
            "category": judged.category, "isolated_systolic": judged.isolated_systolic,
            "crisis": judged.crisis})]
        order = ORDER[self.config.guideline]
        if judged.crisis:
            out.append(DeviceEvent(item.device, "bp_crisis", item.t, evidence, "high"))
        elif self.config.alert_from in order and \
                order.index(judged.category) >= order.index(self.config.alert_from):
            out.append(DeviceEvent(item.device, "bp_high", item.t, evidence, "low"))
        if len(self._baseline) < self.config.baseline_readings:
            self._baseline.append(float(systolic))
            return out
        self._recent.append(float(systolic))
        baseline = sum(self._baseline) / len(self._baseline)
        if len(self._recent) == self._recent.maxlen:
            recent = sum(self._recent) / len(self._recent)
            rising = recent - baseline >= self.config.trend_rise_mmhg
            if rising and not self._trend_open:
                out.append(DeviceEvent(item.device, "trend", item.t, {
                    "measure": "systolic_mmhg", "baseline": round(baseline, 1),
                    "recent": round(recent, 1), "readings": len(self._recent)}, "low"))
            self._trend_open = rising
        return out
