"""Blood-pressure categories at every boundary of the three guidelines, and the detector."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.detectors.bp import ORDER, BpConfig, BpDetector, classify
from edge.items import DeviceEvent, Observation


@pytest.mark.parametrize(("sys_", "dia", "category"), [
    (119, 79, "normal"), (120, 79, "high_normal"), (119, 80, "high_normal"),
    (139, 89, "high_normal"), (140, 70, "grade_1"), (130, 90, "grade_1"),
    (159, 99, "grade_1"), (160, 80, "grade_2"), (150, 100, "grade_2"), (179, 109, "grade_2"),
    (180, 80, "grade_3"), (150, 110, "grade_3"),
])
def test_china_2018(sys_: float, dia: float, category: str) -> None:
    assert classify(sys_, dia).category == category


@pytest.mark.parametrize(("sys_", "dia", "category"), [
    (119, 79, "normal"), (120, 79, "elevated"), (129, 79, "elevated"), (125, 80, "stage_1"),
    (130, 70, "stage_1"), (139, 89, "stage_1"), (140, 70, "stage_2"), (120, 90, "stage_2"),
])
def test_acc_aha_2017(sys_: float, dia: float, category: str) -> None:
    assert classify(sys_, dia, "acc_aha2017").category == category


@pytest.mark.parametrize(("sys_", "dia", "category"), [
    (119, 79, "optimal"), (120, 79, "normal"), (119, 84, "normal"), (130, 70, "high_normal"),
    (125, 85, "high_normal"), (140, 80, "grade_1"), (120, 90, "grade_1"), (160, 70, "grade_2"),
    (150, 100, "grade_2"), (180, 70, "grade_3"), (150, 110, "grade_3"),
])
def test_esc_2018(sys_: float, dia: float, category: str) -> None:
    assert classify(sys_, dia, "esc2018").category == category


def test_isolated_systolic_and_crisis() -> None:
    assert classify(150, 85).isolated_systolic
    assert not classify(150, 90).isolated_systolic
    assert not classify(180, 100).crisis and classify(181, 100).crisis
    assert classify(170, 121).crisis and not classify(170, 120).crisis


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="implausible"):
        classify(80, 120)
    with pytest.raises(ValueError, match="unknown guideline"):
        classify(120, 80, "who1999")  # type: ignore[arg-type]


@given(st.floats(60, 250), st.floats(30, 150), st.floats(0, 40),
       st.sampled_from(["cn2018", "acc_aha2017", "esc2018"]))
def test_higher_pressure_never_lowers_the_category(sys_: float, dia: float, more: float,
                                                   guideline: str) -> None:
    if dia > sys_:
        sys_, dia = dia, sys_
    order = ORDER[guideline]
    base = order.index(classify(sys_, dia, guideline).category)  # type: ignore[arg-type]
    assert order.index(classify(sys_ + more, dia, guideline).category) >= base  # type: ignore[arg-type]
    if dia + more <= sys_:
        assert order.index(classify(sys_, dia + more, guideline).category) >= base  # type: ignore[arg-type]


def _reading(t: float, sys_: float, dia: float) -> Observation:
    return Observation("cuff", "bp", t, {"systolic_mmhg": sys_, "diastolic_mmhg": dia})


def test_detector_crisis_high_and_trend() -> None:
    detector = BpDetector(BpConfig(baseline_readings=3, recent_readings=2))
    kinds = lambda out: [o.kind for o in out if isinstance(o, DeviceEvent)]  # noqa: E731
    assert kinds(detector.feed(_reading(0, 185, 100))) == ["bp_crisis"]
    assert kinds(detector.feed(_reading(1, 165, 95))) == ["bp_high"]
    assert kinds(detector.feed(_reading(2, 120, 80))) == []
    # Baseline (185+165+120)/3 = 156.7; two readings of 172 and more are a trend.
    assert kinds(detector.feed(_reading(3, 125, 80))) == []
    trend = [o for o in detector.feed(_reading(4, 125, 80)) if isinstance(o, DeviceEvent)]
    assert trend == []
    detector = BpDetector(BpConfig(baseline_readings=3, recent_readings=2))
    for t, s in enumerate([120, 122, 118]):
        detector.feed(_reading(t, s, 78))
    detector.feed(_reading(3, 138, 85))
    out = [o for o in detector.feed(_reading(4, 140, 85)) if isinstance(o, DeviceEvent)]
    assert [o.kind for o in out] == ["trend"] and out[0].data["baseline"] == 120.0
    assert [o.kind for o in detector.feed(_reading(5, 141, 85)) if isinstance(o, DeviceEvent)] \
        == []  # reported once while it lasts
