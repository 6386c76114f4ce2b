"""NEWS2, the National Early Warning Score (Royal College of Physicians, 2017), SpO2 scale 1.

From bed-side sensors alone some parameters are missing; the score then says it is partial.
"""

from __future__ import annotations

from dataclasses import dataclass

# (upper bound inclusive, points), ascending; the last row catches everything above.
_RESPIRATION = [(8, 3), (11, 1), (20, 0), (24, 2), (float("inf"), 3)]
_SPO2 = [(91, 3), (93, 2), (95, 1), (float("inf"), 0)]
_SYSTOLIC = [(90, 3), (100, 2), (110, 1), (219, 0), (float("inf"), 3)]
_PULSE = [(40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (float("inf"), 3)]
_TEMPERATURE = [(35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (float("inf"), 2)]


@dataclass(frozen=True)
class News2:
    total: int
    per_parameter: dict[str, int | None]
    partial: bool
    risk: str  # low, low_medium, medium, high


def _points(value: float, table: list[tuple[float, int]]) -> int:
    return next(points for upper, points in table if value <= upper)


def score(respiration_rate: float | None = None, spo2: float | None = None,
          systolic: float | None = None, pulse: float | None = None,
          temperature: float | None = None, on_oxygen: bool | None = None,
          alert: bool | None = None) -> News2:
    """Return the NEWS2 score; missing parameters count 0 and make it partial."""
    per: dict[str, int | None] = {
        "respiration_rate": None if respiration_rate is None
        else _points(respiration_rate, _RESPIRATION),
        "spo2": None if spo2 is None else _points(spo2, _SPO2),
        "systolic": None if systolic is None else _points(systolic, _SYSTOLIC),
        "pulse": None if pulse is None else _points(pulse, _PULSE),
        "temperature": None if temperature is None else _points(temperature, _TEMPERATURE),
        "on_oxygen": None if on_oxygen is None else (2 if on_oxygen else 0),
        "consciousness": None if alert is None else (0 if alert else 3),
    }
    points = [p for p in per.values() if p is not None]
    total = sum(points)
    if total >= 7:
        risk = "high"
    elif total >= 5:
        risk = "medium"
    elif 3 in points:
        risk = "low_medium"
    else:
        risk = "low"
    return News2(total, per, any(p is None for p in per.values()), risk)
