"""Detectors wired to a home's devices by role: the table, devices a user names, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bedwatch.configfile import ConfigError
from edge.detectors.activity import ActivityDetector
from edge.detectors.localtime import DEFAULT_ZONE, local, zone
from edge.detectors.mat import MatFallDetector
from edge.detectors.news2 import News2Detector
from edge.detectors.occupancy import OccupancyConfig, OccupancyDetector
from edge.detectors.wiring import DETECTORS, DetectorsConfig, build
from edge.drivers.bed_sensor import BedSensorConfig
from edge.drivers.bp_cuff import BpCuffConfig
from edge.drivers.fall_mat import FallMatConfig
from edge.drivers.radar import RadarConfig


def _bed(id_: str = "bed") -> BedSensorConfig:
    return BedSensorConfig(type="bed_sensor", id=id_, port="sim")


def _mat(id_: str = "floor-mat") -> FallMatConfig:
    return FallMatConfig(type="fall_mat", id=id_, port="sim")


def _radar(id_: str, model: str) -> RadarConfig:
    return RadarConfig.model_validate({"type": "radar", "id": id_, "port": "sim", "model": model})


def _cuff() -> BpCuffConfig:
    return BpCuffConfig.model_validate({"type": "bp_cuff", "id": "cuff",
                                        "address": "AA:BB:CC:DD:EE:FF"})


def _detector(feeds: list[Any], kind: type) -> Any:
    (found,) = [f.__self__ for f in feeds if isinstance(f.__self__, kind)]
    return found


def test_one_row_per_detector_each_with_its_settings() -> None:
    keys = [spec.key for spec in DETECTORS]
    assert len(keys) == len(set(keys))
    assert set(keys) <= set(DetectorsConfig.model_fields)


def test_detectors_follow_the_devices_the_home_has() -> None:
    assert build(DetectorsConfig(), []) == []
    assert len(build(DetectorsConfig(), [_bed()])) == 8  # bed detectors, activity, news2
    assert len(build(DetectorsConfig(), [_bed(), _mat()])) == 9
    assert len(build(DetectorsConfig(), [_bed(), _mat(), _cuff()])) == 10
    assert build(DetectorsConfig(enabled=False), [_bed(), _mat()]) == []


def test_unnamed_devices_are_the_first_of_their_role() -> None:
    feeds = build(DetectorsConfig(), [_bed("bed-a"), _bed("bed-b"), _mat("mat-a"), _cuff(),
                                      _radar("breath", "mr60bha1"), _radar("fall", "mr60fda1")])
    assert _detector(feeds, OccupancyDetector).config.device == "bed-a"
    activity = _detector(feeds, ActivityDetector).config
    assert (activity.bed, activity.mat) == ("bed-a", "mat-a")
    mat = _detector(feeds, MatFallDetector).config
    assert (mat.device, mat.radar) == ("mat-a", "fall")  # only the fall radar is fused in
    news2 = _detector(feeds, News2Detector).config
    assert (news2.bed, news2.cuff) == ("bed-a", "cuff")


def test_optional_devices_the_home_lacks_are_left_empty() -> None:
    feeds = build(DetectorsConfig(), [_bed()])
    assert _detector(feeds, ActivityDetector).config.mat is None
    assert _detector(feeds, News2Detector).config.cuff is None
    radar_only = build(DetectorsConfig(), [_radar("fall", "mr60fda1")])
    assert _detector(radar_only, MatFallDetector).config.radar == "fall"


def test_a_device_the_user_names_is_kept() -> None:
    config = DetectorsConfig(occupancy=OccupancyConfig(device="bed-b"))
    feeds = build(config, [_bed("bed-a"), _bed("bed-b")])
    assert _detector(feeds, OccupancyDetector).config.device == "bed-b"


@pytest.mark.parametrize(("section", "setting", "devices", "message"), [
    ("occupancy", {"device": "bed-2"}, [_bed()], "detectors.occupancy.device: 'bed-2'"),
    ("occupancy", {"device": "floor-mat"}, [_bed(), _mat()], "not a configured bed board"),
    ("mat", {"radar": "breath"}, [_mat(), _radar("breath", "mr60bha1")],
     "detectors.mat.radar: 'breath' is not a configured fall radar"),
    ("news2", {"cuff": "cuff"}, [_bed()], "detectors.news2.cuff: 'cuff'"),
])
def test_a_device_the_user_names_must_exist(section: str, setting: dict[str, str],
                                            devices: list[Any], message: str) -> None:
    config = DetectorsConfig.model_validate({section: setting})
    with pytest.raises(ConfigError, match=message):
        build(config, devices)


def test_the_time_zone_is_validated() -> None:
    assert DetectorsConfig().timezone == "Asia/Shanghai"
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        DetectorsConfig(timezone="UTC+8")


@given(st.floats(700_000_000, 4_102_444_800))  # 1992 to 2100
def test_shanghai_time_is_the_old_fixed_offset(t: float) -> None:
    # Shanghai has kept UTC+8 without daylight saving since 1991.
    old = datetime.fromtimestamp(t, UTC) + timedelta(hours=8)
    new = local(t, DEFAULT_ZONE)
    assert (new.date(), new.hour, new.minute, new.second) == \
        (old.date(), old.hour, old.minute, old.second)


def test_night_hours_follow_daylight_saving() -> None:
    berlin = zone("Europe/Berlin")
    detector = OccupancyDetector(OccupancyConfig(), berlin)
    summer = datetime(2026, 7, 1, 20, 30, tzinfo=UTC).timestamp()  # 22:30 CEST
    winter = datetime(2026, 1, 15, 20, 30, tzinfo=UTC).timestamp()  # 21:30 CET
    assert detector._is_night(summer)
    assert not detector._is_night(winter)
