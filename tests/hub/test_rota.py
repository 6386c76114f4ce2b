"""The rota: shifts over midnight, hand-over, overrides, and the fallback for gaps.

`on_duty` reads the registry rows; each test's `config` is its registry imported into them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from hub.db import make_engine, make_sessionmaker
from hub.rota import on_duty
from tests.hub.conftest import site_config

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def _config(tmp_path: Path) -> Session:
    config = site_config(
        tmp_path,
        caregivers=[
            {"id": "day", "name": "D", "site": "town", "notify": ["json://d/"]},
            {"id": "night", "name": "N", "site": "town", "notify": ["json://n/"]},
            {"id": "standing", "name": "S", "site": "town", "role": "backup",
             "notify": ["json://s/"]},
        ],
        shifts=[
            {"site": "town", "caregiver": "day", "role": "oncall",
             "days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "20:00"},
            {"site": "town", "caregiver": "night", "role": "oncall",
             "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
             "start": "20:00", "end": "08:00"},
        ],
        overrides=[{"site": "town", "caregiver": "standing", "role": "oncall",
                    "start": "2026-11-25T12:00", "end": "2026-11-25T14:00"}],
    )
    return make_sessionmaker(make_engine(config.database.url))()


def test_hand_over_at_the_end_of_a_shift(tmp_path: Path) -> None:
    config = _config(tmp_path)  # 2026-11-24 is a Tuesday
    assert on_duty(config, "town", "oncall", at("2026-11-24T19:59")) == ["day"]
    assert on_duty(config, "town", "oncall", at("2026-11-24T20:00")) == ["night"]
    assert on_duty(config, "town", "oncall", at("2026-11-25T07:59")) == ["night"]
    assert on_duty(config, "town", "oncall", at("2026-11-25T08:00")) == ["day"]


def test_night_shift_from_sunday_runs_into_monday_morning(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert on_duty(config, "town", "oncall", at("2026-11-30T03:00")) == ["night"]  # Monday


def test_gap_in_the_rota_falls_back_to_standing_role(tmp_path: Path) -> None:
    config = _config(tmp_path)
    # Saturday daytime: no day shift; the standing on-call caregivers are paged.
    assert on_duty(config, "town", "oncall", at("2026-11-28T10:00")) == ["day", "night"]


def test_override_replaces_the_shift_for_its_window(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert on_duty(config, "town", "oncall", at("2026-11-25T11:59")) == ["day"]
    assert on_duty(config, "town", "oncall", at("2026-11-25T12:00")) == ["standing"]
    assert on_duty(config, "town", "oncall", at("2026-11-25T14:00")) == ["day"]


def test_roles_without_shifts_use_standing_roles(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert on_duty(config, "town", "backup", at("2026-11-25T12:00")) == ["standing"]
    assert on_duty(config, "town", "supervisor", at("2026-11-25T12:00")) == []
