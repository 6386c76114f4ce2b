"""The evaluation harness end to end on two held-out bed-days (the full library runs with
`bedwatch eval`): bytes through the real decoders, detectors, scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware_sim.scenarios import library
from rig.eval import ALERT_KINDS, run_day, score


@pytest.fixture(scope="module")
def heldout() -> list:  # type: ignore[type-arg]
    days = [d for d in library() if d.part == "heldout"]
    chosen = [next(d for d in days if d.kind == "fall" and d.calls),
              next(d for d in days if d.kind == "apnea")]
    return [run_day(d) for d in chosen]


def test_every_scripted_event_is_found_without_false_alerts(heldout: list) -> None:  # type: ignore[type-arg]
    figures = score(heldout)
    assert figures["bed_days"] == 2
    for kind in ("call", "bed_exit", "fall", "long_lie", "not_returned", "apnea"):
        assert figures["detectors"][kind]["sensitivity"] == 1.0, figures["detectors"][kind]
    # Presses came through line noise and damaged copies, and none waited for later bytes.
    assert figures["detectors"]["call"]["latency_p95_s"] <= 1.0
    assert figures["call_line"]["bad_crc"] + figures["call_line"]["garbage_bytes"] > 0
    assert figures["detectors"]["bed_exit"]["latency_p95_s"] <= 2.0
    assert figures["false_alerts_per_bed_day"] <= 0.5, figures
    assert figures["hr_mae_bpm"] <= 2.0 and figures["rr_mae_bpm"] <= 1.0
    assert set(figures["detectors"]) <= set(ALERT_KINDS)
    json.dumps(figures)  # the --json output is plain JSON


def test_library_split_and_size() -> None:
    days = library()
    assert len(days) >= 30
    assert {d.part for d in days} == {"tuning", "heldout"}
    assert not {d.seed for d in days if d.part == "tuning"} & \
        {d.seed for d in days if d.part == "heldout"}
    assert all(abs(sum(s.duration_s for s in d.bed) - 86400) < 1 for d in days)
    kinds = {t.kind for d in days for t in d.truth}
    assert {"call", "bed_exit", "fall", "long_lie", "not_returned", "not_up_by", "apnea",
            "sensor_fault"} <= kinds


def test_not_returned_is_only_expected_for_night_trips() -> None:
    from firmware_sim.scenarios import NIGHT, _is_night

    assert _is_night(3 * 3600) and not _is_night(10.5 * 3600)  # 23:00 yes, 06:30 no
    for day in library():
        for truth in day.truth:
            if truth.kind == "not_returned":
                left = truth.t - NIGHT.not_returned_s - day.t0
                assert _is_night(left), (day.name, left)


def test_cli_writes_the_held_out_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bedwatch.cli import app

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["eval", "--days", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert {"detectors", "hr_mae_bpm", "rr_mae_bpm", "real_recording_hr_mae_bpm",
            "bed_days"} <= set(figures)
    assert figures["bed_days"] == 1
