"""NEWS2: every row of the table at its boundaries, the risk bands, and partial scores."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.detectors.news2 import score


@pytest.mark.parametrize(("param", "value", "points"), [
    ("respiration_rate", 8, 3), ("respiration_rate", 9, 1), ("respiration_rate", 11, 1),
    ("respiration_rate", 12, 0), ("respiration_rate", 20, 0), ("respiration_rate", 21, 2),
    ("respiration_rate", 24, 2), ("respiration_rate", 25, 3),
    ("spo2", 91, 3), ("spo2", 92, 2), ("spo2", 93, 2), ("spo2", 94, 1), ("spo2", 95, 1),
    ("spo2", 96, 0),
    ("systolic", 90, 3), ("systolic", 91, 2), ("systolic", 100, 2), ("systolic", 101, 1),
    ("systolic", 110, 1), ("systolic", 111, 0), ("systolic", 219, 0), ("systolic", 220, 3),
    ("pulse", 40, 3), ("pulse", 41, 1), ("pulse", 50, 1), ("pulse", 51, 0), ("pulse", 90, 0),
    ("pulse", 91, 1), ("pulse", 110, 1), ("pulse", 111, 2), ("pulse", 130, 2), ("pulse", 131, 3),
    ("temperature", 35.0, 3), ("temperature", 35.1, 1), ("temperature", 36.0, 1),
    ("temperature", 36.1, 0), ("temperature", 38.0, 0), ("temperature", 38.1, 1),
    ("temperature", 39.0, 1), ("temperature", 39.1, 2),
])
def test_table_boundaries(param: str, value: float, points: int) -> None:
    result = score(**{param: value})
    key = param
    assert result.per_parameter[key] == points
    assert result.total == points
    assert result.partial


def test_oxygen_and_consciousness() -> None:
    assert score(on_oxygen=True).per_parameter["on_oxygen"] == 2
    assert score(alert=False).per_parameter["consciousness"] == 3
    assert score(alert=True, on_oxygen=False).total == 0


@pytest.mark.parametrize(("kwargs", "risk"), [
    ({"pulse": 95, "respiration_rate": 22}, "low"),  # 1 + 2
    ({"respiration_rate": 8}, "low_medium"),  # a single 3
    ({"respiration_rate": 22, "pulse": 115, "temperature": 38.5}, "medium"),  # 2+2+1
    ({"respiration_rate": 25, "pulse": 131, "spo2": 95}, "high"),  # 3+3+1
])
def test_risk_bands(kwargs: dict[str, float], risk: str) -> None:
    assert score(**kwargs).risk == risk  # type: ignore[arg-type]


def test_complete_score_is_not_partial() -> None:
    full = score(respiration_rate=16, spo2=97, systolic=125, pulse=70, temperature=36.8,
                 on_oxygen=False, alert=True)
    assert not full.partial and full.total == 0 and full.risk == "low"


@given(st.floats(0, 60), st.floats(0, 60))
def test_respiration_points_rise_away_from_normal(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    if lo >= 16:  # above the normal band, faster is never better
        assert score(respiration_rate=hi).total >= score(respiration_rate=lo).total
    if hi <= 16:  # below it, slower is never better
        assert score(respiration_rate=lo).total >= score(respiration_rate=hi).total
