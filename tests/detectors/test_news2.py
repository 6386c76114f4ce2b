"""NEWS2: every row of the table at its boundaries, the risk bands, and partial scores; the
detector on scripted vitals and cuff readings, with its hard negatives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.detectors.news2 import News2Config, News2Detector, score
from edge.items import DetectorOutput, DeviceEvent, Observation


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


# -- the detector -------------------------------------------------------------------------------

T0 = 1_764_000_000.0
STEP_S = 30.0  # the vitals detector's cadence


def _vitals(i: int, hr: float | None, rr: float | None, quality: float = 0.8,
            device: str = "bed") -> Observation:
    fields: dict[str, bool | int | float | str] = {"quality": quality}
    if hr is not None:
        fields["heart_rate_bpm"] = hr
    if rr is not None:
        fields["breathing_rate_bpm"] = rr
    return Observation(device, "vitals", T0 + i * STEP_S, fields)


def _bp(t: float, systolic: float, device: str = "cuff") -> Observation:
    return Observation(device, "bp", t, {"systolic_mmhg": systolic, "diastolic_mmhg": 70.0})


def _events(detector: News2Detector, items: list[Observation]) -> list[DeviceEvent]:
    out: list[DetectorOutput] = []
    for item in items:
        out += detector.feed(item)
    return [e for e in out if isinstance(e, DeviceEvent)]


def test_persistent_medium_is_raised_once_partial_with_its_evidence() -> None:
    detector = News2Detector(News2Config(cuff="cuff"))
    # Pulse 115 (2) and breathing 22 (2): 4, low; a systolic of 105 (1) makes it 5, medium.
    items = [_bp(T0 - 600, 105.0)] + [_vitals(i, 115, 22) for i in range(10)]
    events = _events(detector, items)
    assert [e.kind for e in events] == ["news2_medium"]
    event = events[0]
    assert event.t == T0 + 2 * STEP_S  # the third window in a row
    assert event.data["partial"] is True and event.data["score"] == 5
    assert event.data["parameters"] == {
        "pulse": {"value": 115.0, "points": 2},
        "respiration_rate": {"value": 22.0, "points": 2},
        "systolic": {"value": 105.0, "points": 1}}
    assert {"spo2", "temperature", "consciousness"} <= set(event.data["missing"])
    assert "SpO2" in event.data["note"]


def test_a_three_in_one_parameter_is_medium() -> None:
    events = _events(News2Detector(), [_vitals(i, 70, 26) for i in range(3)])  # breathing 26: 3
    assert [e.kind for e in events] == ["news2_medium"]
    assert events[0].data["score"] == 3


def test_high_is_raised_and_a_medium_before_it_escalates_once() -> None:
    detector = News2Detector(News2Config(cuff="cuff"))
    # 115 bpm (2) + 26/min (3) = 5, medium; with a systolic of 88 (3) it is 8, high.
    items = [_vitals(i, 115, 26) for i in range(3)] + [_bp(T0 + 100, 88.0)] + \
        [_vitals(i, 115, 26) for i in range(4, 12)]
    assert [e.kind for e in _events(detector, items)] == ["news2_medium", "news2_high"]


def test_one_noisy_window_raises_nothing() -> None:
    items = [_vitals(i, 72, 15) for i in range(5)] + [_vitals(5, 140, 30)] + \
        [_vitals(i, 72, 15) for i in range(6, 12)]
    assert _events(News2Detector(), items) == []


def test_two_noisy_windows_in_a_row_raise_nothing_with_persistence_three() -> None:
    items = [_vitals(0, 72, 15), _vitals(1, 140, 30), _vitals(2, 140, 30), _vitals(3, 72, 15),
             _vitals(4, 140, 30), _vitals(5, 72, 15)]
    assert _events(News2Detector(), items) == []


def test_a_missing_parameter_is_not_an_extreme_one() -> None:
    # Windows with movement carry no heart rate; a missing pulse must not score as 0 bpm (3).
    detector = News2Detector()
    assert _events(detector, [_vitals(i, None, 16) for i in range(10)]) == []
    # A 0 is "no value", never a measured rate.
    assert _events(detector, [_vitals(i, 0, 16) for i in range(10, 20)]) == []


def test_a_stale_pressure_is_missing_not_scored() -> None:
    detector = News2Detector(News2Config(cuff="cuff", bp_max_age_s=3600))
    # A systolic of 85 (3) three hours ago says nothing about now.
    items = [_bp(T0 - 3 * 3600, 85.0)] + [_vitals(i, 72, 15) for i in range(5)]
    assert _events(detector, items) == []


def test_low_quality_windows_and_other_devices_are_ignored() -> None:
    detector = News2Detector(News2Config(cuff="cuff"))
    items = [_vitals(i, 140, 30, quality=0.1) for i in range(5)] + \
        [_vitals(i, 140, 30, device="bed-2") for i in range(5, 10)] + \
        [_bp(T0, 85.0, device="other-cuff")] + [_vitals(i, 72, 15) for i in range(10, 15)]
    assert _events(detector, items) == []


def test_one_event_per_episode_and_a_new_episode_after_recovery() -> None:
    detector = News2Detector()
    episode = [_vitals(i, 70, 26) for i in range(6)]
    brief_dip = [_vitals(6, 70, 15), _vitals(7, 70, 15)]  # two normal windows: same episode
    more = [_vitals(i, 70, 26) for i in range(8, 14)]
    recovered = [_vitals(i, 70, 15) for i in range(14, 17)]  # three normal: episode over
    again = [_vitals(i, 70, 26) for i in range(17, 20)]
    kinds = [e.kind for e in _events(detector, episode + brief_dip + more + recovered + again)]
    assert kinds == ["news2_medium", "news2_medium"]
