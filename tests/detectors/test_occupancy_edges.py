"""Occupancy on synthetic load-cell blocks: the thresholds at their bounds, the time each
decision carries (across block cuts and gaps), not_up_by in the morning, and what is learned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from edge.detectors.occupancy import (
    OccupancyConfig,
    OccupancyDetector,
    _row_medians,
    in_hours,
    sorted_median,
)
from edge.items import DeviceEvent, Observation, SampleBlock

FS = 25.0
TZ = timezone(timedelta(hours=8))
TARE = 40.0  # the empty bed on its four legs


def at(day: int, hour: int, minute: int = 0, second: float = 0.0) -> float:
    """UTC seconds of a local time in March 2026 (UTC+8)."""
    local = datetime(2026, 3, day, hour, minute, tzinfo=TZ) + timedelta(seconds=second)
    return local.astimezone(UTC).timestamp()


class Bed:
    """Feeds a detector blocks of constant leg loads, in order, as the bed board does."""

    def __init__(self, t: float, block: int = 12, **config: object) -> None:
        config.setdefault("tare_kg", TARE)
        self.detector = OccupancyDetector(OccupancyConfig(**config), tz=TZ)  # type: ignore[arg-type]
        self.t = t
        self.block = block
        self.out: list[Observation | DeviceEvent] = []

    def load(self, seconds: float, person_kg: float = 0.0, right_share: float = 0.5,
             extra_kg: float = 0.0) -> None:
        """Hold the bed's load for `seconds`: the empty bed, a person, and any object."""
        n = round(seconds * FS)
        leg = TARE / 4
        person_right, person_left = person_kg * right_share / 2, person_kg * (1 - right_share) / 2
        row = [leg + person_left + extra_kg / 4, leg + person_right + extra_kg / 4,
               leg + person_left + extra_kg / 4, leg + person_right + extra_kg / 4]
        samples = np.tile(np.array(row), (n, 1))
        for s in range(0, n, self.block):
            part = samples[s:s + self.block]
            self.out += self.detector.feed(SampleBlock("bed", self.t + s / FS, FS, part))
        self.t += n / FS

    def gap(self, seconds: float) -> None:
        self.t += seconds

    def states(self) -> list[tuple[float, str]]:
        return [(o.t, o.fields["state"]) for o in self.out if isinstance(o, Observation)]

    def events(self, kind: str | None = None) -> list[DeviceEvent]:
        return [o for o in self.out if isinstance(o, DeviceEvent)
                and (kind is None or o.kind == kind)]


# -- helpers used by other detectors ---------------------------------------------------------

def test_sorted_median_and_row_medians() -> None:
    assert sorted_median([5.0]) == 5.0
    assert sorted_median([1.0, 2.0, 9.0]) == 2.0
    assert sorted_median([1.0, 2.0, 4.0, 9.0]) == 3.0
    rng = np.random.default_rng(1)
    for width in (1, 2, 3, 12, 13):
        rows = rng.normal(size=(7, width))
        assert np.allclose(_row_medians(rows), np.median(rows, axis=1))


@pytest.mark.parametrize(("hour", "night"), [
    (22.0, True), (21.99, False), (23.5, True), (0.0, True), (5.99, True), (6.0, False),
    (12.0, False)])
def test_night_hours_span_midnight_start_included_end_excluded(hour: float, night: bool) -> None:
    assert in_hours(hour, 22.0, 6.0) is night


@pytest.mark.parametrize(("hour", "inside"), [(8.0, True), (7.99, False), (19.99, True),
                                              (20.0, False), (0.0, False)])
def test_day_hours_start_included_end_excluded(hour: float, inside: bool) -> None:
    assert in_hours(hour, 8.0, 20.0) is inside


# -- states and their thresholds ---------------------------------------------------------------

def test_the_defaults_are_the_documented_thresholds() -> None:
    config = OccupancyConfig()
    assert (config.device, config.load_channels, config.resident_weight_kg, config.tare_kg,
            config.weight_tolerance, config.out_below, config.edge_share, config.decide_s,
            config.night_start_h, config.night_end_h, config.not_returned_s,
            config.not_up_by_h) == ("bed", [0, 1, 2, 3], 60.0, None, 0.3, 0.3, 0.8, 0.5,
                                    22.0, 6.0, 1200.0, 9.5)


@pytest.mark.parametrize("field", ["night_start_h", "night_end_h", "not_up_by_h"])
def test_hours_of_the_day_run_from_0_to_below_24(field: str) -> None:
    assert getattr(OccupancyConfig(**{field: 23.99}), field) == 23.99
    assert getattr(OccupancyConfig(**{field: 0}), field) == 0
    for bad in (24, -0.01):
        with pytest.raises(ValidationError, match=field):
            OccupancyConfig(**{field: bad})


@pytest.mark.parametrize(("person", "state"), [
    (60.0, "in_bed"), (42.0, "in_bed"), (78.0, "in_bed"), (41.9, "other"), (78.1, "other"),
    (18.0, "other"), (17.9, None)])
def test_lying_weight_within_the_default_tolerance_is_the_resident(person: float,
                                                                   state: str | None) -> None:
    bed = Bed(at(1, 14))
    bed.load(5)
    bed.load(10, person)
    assert [s for _, s in bed.states()][-1:] == ([state] if state else [])


@pytest.mark.parametrize(("share", "state"), [(0.8, "sitting_edge"), (0.2, "sitting_edge"),
                                              (0.79, "in_bed"), (0.5, "in_bed")])
def test_weight_on_one_side_is_sitting_on_the_edge(share: float, state: str) -> None:
    bed = Bed(at(1, 14))
    bed.load(5)
    bed.load(10, 60, right_share=share)
    assert bed.states()[-1][1] == state


def test_the_empty_bed_is_taken_as_tare_when_none_is_given() -> None:
    bed = Bed(at(1, 14), tare_kg=None)
    bed.load(5)
    assert bed.detector.tare == TARE and bed.states() == []
    bed.load(10, 60)
    assert bed.states()[-1][1] == "in_bed"


def test_lying_down_and_getting_up_are_timed_alike_however_the_blocks_are_cut() -> None:
    start = at(1, 14)
    seen = []
    for block in (1, 7, 12, 25, 60):
        bed = Bed(start, block=block)
        bed.load(5)
        bed.load(20, 60)
        bed.load(5)
        states = bed.states()
        [exit_] = bed.events("bed_exit")
        assert states[-1] == (exit_.t, "out")
        assert start + 25 < exit_.t <= start + 25 + 2.0, block  # within two seconds
        step = round(0.5 * FS) / FS
        assert all(abs((t - start) / step - round((t - start) / step)) < 1e-4
                   for t, _ in states), block
        seen.append([(round(t - start, 4), s) for t, s in states])
    assert all(s == seen[0] for s in seen[1:])
    assert seen[0] == [(5.76, "other"), (6.24, "in_bed"), (25.92, "other"), (26.4, "out")]


def test_only_the_configured_board_and_columns_are_read() -> None:
    detector = OccupancyDetector(OccupancyConfig(device="bed2", load_channels=[2, 3, 4, 5],
                                                 tare_kg=TARE), tz=TZ)
    t = at(1, 14)
    empty = np.hstack([np.full((25, 2), 99.0), np.full((25, 4), TARE / 4),
                       np.full((25, 2), 99.0)])
    lying = empty.copy()
    lying[:, 2:6] += 15.0
    assert detector.feed(SampleBlock("bed", t, FS, lying)) == []  # another board
    assert detector.feed(Observation("bed2", "bed", t, {"load_kg": 60.0})) == []
    out = []
    for i in range(4):
        out += detector.feed(SampleBlock("bed2", t + i, FS, empty))
    for i in range(4, 10):
        out += detector.feed(SampleBlock("bed2", t + i, FS, lying))
    assert [o.fields["state"] for o in out if isinstance(o, Observation)][-1] == "in_bed"
    swapped = OccupancyDetector(OccupancyConfig(load_channels=[1, 0, 3, 2], tare_kg=TARE),
                                tz=TZ)
    legs = np.tile([TARE / 4 + 3, TARE / 4 + 45, TARE / 4 + 3, TARE / 4 + 9], (100, 1))
    out = swapped.feed(SampleBlock("bed", t, FS, legs))
    assert [o.fields["state"] for o in out if isinstance(o, Observation)] == ["sitting_edge"]


def test_a_visitor_who_never_lay_down_makes_no_exit() -> None:
    bed = Bed(at(1, 14))
    bed.load(5)
    bed.load(30, 60, right_share=0.9)  # sits on the edge, leaves
    bed.load(10)
    assert "sitting_edge" in [s for _, s in bed.states()] and bed.events() == []


def test_an_exit_from_the_edge_and_a_return_are_reported_with_the_time_away() -> None:
    start = at(1, 14)
    bed = Bed(start)
    bed.load(5)
    bed.load(20, 60)
    bed.load(10, 60, right_share=0.9)
    bed.load(100)
    bed.load(20, 60)
    exit_, back = bed.events()
    assert (exit_.kind, exit_.data["night"]) == ("bed_exit", False)
    assert start + 35 < exit_.t <= start + 37
    assert back.kind == "bed_return" and back.data["away_s"] == pytest.approx(100.0, abs=0.5)
    assert back.data["away_s"] == round(back.t - exit_.t, 1)


def test_a_gap_in_the_samples_does_not_shift_later_decisions() -> None:
    start = at(1, 14)
    bed = Bed(start, block=12)
    bed.load(5)
    bed.load(20.4, 60)  # leaves part of a decision step over
    bed.gap(600)  # the board was unplugged for ten minutes
    bed.load(20, 60)
    back_at = bed.t
    bed.load(10)
    [exit_] = bed.events("bed_exit")
    assert back_at < exit_.t <= back_at + 2.0


# -- the night: not returned ------------------------------------------------------------------

def test_not_returned_comes_once_exactly_at_the_limit_after_a_night_exit() -> None:
    bed = Bed(at(2, 1))
    bed.load(5)
    bed.load(30, 60)
    bed.load(1195)
    [exit_] = bed.events("bed_exit")
    assert exit_.data["night"] is True
    assert bed.events("not_returned") == []
    bed.load(30)
    [late] = bed.events("not_returned")
    assert late.t == pytest.approx(exit_.t + 1200.0, abs=1e-3)
    assert late.data == {"left_at": exit_.t, "away_s": 1200.0, "limit_s": 1200.0}
    bed.load(20, 60)
    bed.load(1300)
    assert len(bed.events("not_returned")) == 2  # a second trip is watched again


def test_a_day_exit_is_not_watched_for_a_return() -> None:
    bed = Bed(at(1, 21, 58))
    bed.load(5)
    bed.load(30, 60)
    bed.load(1300)  # left at 21:58, before the night starts
    assert bed.events("bed_exit")[0].data["night"] is False
    assert bed.events("not_returned") == []


def test_a_quick_return_at_night_is_not_a_late_one() -> None:
    bed = Bed(at(2, 1))
    bed.load(5)
    bed.load(30, 60)
    bed.load(600)
    bed.load(1300, 60)
    assert bed.events("not_returned") == [] and len(bed.events("bed_return")) == 1


# -- the morning: not up by -------------------------------------------------------------------

def test_not_up_by_at_half_past_nine_once_a_day() -> None:
    bed = Bed(at(1, 9, 29))
    bed.load(5)
    bed.load(50, 60)
    assert bed.events("not_up_by") == []  # 09:29:55
    bed.load(120, 60)
    [late] = bed.events("not_up_by")
    assert late.t == pytest.approx(at(1, 9, 30), abs=0.01)
    assert late.data == {"local_time": "09:30", "limit_h": 9.5}
    bed.load(600, 60)
    assert len(bed.events("not_up_by")) == 1
    bed.gap(at(2, 9, 40) - bed.t)
    bed.load(10, 60)
    assert len(bed.events("not_up_by")) == 2  # the next morning again


def test_not_up_by_is_not_raised_in_the_afternoon_or_when_switched_off() -> None:
    bed = Bed(at(1, 12))
    bed.load(5)
    bed.load(60, 60)
    assert bed.events("not_up_by") == []
    bed = Bed(at(1, 11, 59))
    bed.load(5)
    bed.load(30, 60)
    assert len(bed.events("not_up_by")) == 1
    bed = Bed(at(1, 10), not_up_by_h=None)
    bed.load(5)
    bed.load(30, 60)
    assert bed.events("not_up_by") == []


def test_not_up_by_is_not_raised_for_a_resident_who_was_up_after_the_night() -> None:
    bed = Bed(at(1, 6, 0, 5))
    bed.load(5)
    bed.load(10, 60)
    bed.load(60)  # up at 06:00:20, after the night ended
    bed.gap(at(1, 9, 40) - bed.t)
    bed.load(30, 60)  # a nap after breakfast
    assert bed.events("not_up_by") == []
    bed = Bed(at(1, 5, 58))
    bed.load(5)
    bed.load(10, 60)
    bed.load(60)  # up at 05:58, still in the night: not up for the day
    bed.gap(at(1, 9, 40) - bed.t)
    bed.load(30, 60)
    assert len(bed.events("not_up_by")) == 1


# -- what is learned --------------------------------------------------------------------------

def test_the_resident_weight_is_followed_slowly_and_only_when_close() -> None:
    bed = Bed(at(1, 14))
    bed.load(5)
    bed.load(50, 63)  # about 100 decisions at 3 kg above
    assert 60.05 < bed.detector.weight < 60.4
    bed.load(10)
    before = bed.detector.weight
    bed.load(50, 67)  # more than a tenth away: not her weight drifting
    bed.load(10)
    bed.load(20, 60, right_share=0.9)  # sitting on the edge
    bed.load(10)
    assert bed.detector.weight == before
    bed = Bed(at(1, 14))
    bed.load(5)
    bed.load(50, 57)
    assert 59.6 < bed.detector.weight < 59.95


def test_the_empty_bed_drift_is_learned_and_an_object_is_not() -> None:
    bed = Bed(at(1, 14))
    bed.load(9.5, extra_kg=1.0)  # 19 steady decisions: not yet
    assert bed.detector.tare == TARE
    bed.load(0.5, extra_kg=1.0)
    assert bed.detector.tare == pytest.approx(TARE + 0.05)
    bed.load(60, extra_kg=1.0)
    assert bed.detector.tare == pytest.approx(TARE + 1.0, abs=0.01)
    bed = Bed(at(1, 14))
    bed.load(60, extra_kg=5.0)  # a bag on the bed
    assert bed.detector.tare == TARE
    bed = Bed(at(1, 14))
    for _ in range(30):  # a restless reading: never steady
        bed.load(0.5, extra_kg=0.6)
        bed.load(0.5)
    assert bed.detector.tare == TARE


@pytest.mark.parametrize(("hour", "minute", "night"), [
    (22, 10, True), (21, 50, False), (5, 50, True), (6, 10, False), (0, 30, True)])
def test_an_exit_is_at_night_by_the_local_minute(hour: int, minute: int, night: bool) -> None:
    bed = Bed(at(2 if hour < 12 else 1, hour, minute))
    bed.load(5)
    bed.load(10, 60)
    bed.load(5)
    [exit_] = bed.events("bed_exit")
    assert exit_.data["night"] is night


def test_after_her_exit_a_visitor_sitting_down_and_leaving_is_no_second_exit() -> None:
    bed = Bed(at(1, 14))
    bed.load(5)
    bed.load(20, 60)
    bed.load(30)
    bed.load(30, 60, right_share=0.9)  # a visitor sits on the edge for half a minute
    bed.load(30)
    assert len(bed.events("bed_exit")) == 1


def test_up_within_the_first_second_after_the_night_counts_as_up() -> None:
    bed = Bed(at(1, 5, 59, 43.8))
    bed.load(5)
    bed.load(10, 60)
    bed.load(30)
    [exit_] = bed.events("bed_exit")
    assert at(1, 6) <= exit_.t < at(1, 6, 0, 1)
    bed.gap(at(1, 9, 40) - bed.t)
    bed.load(30, 60)
    assert bed.events("not_up_by") == []


def test_the_load_left_behind_at_an_exit_is_reported_to_a_tenth() -> None:
    bed = Bed(at(1, 14))
    bed.load(5)
    bed.load(20, 60, extra_kg=3.33)
    bed.load(10, extra_kg=3.33)  # a pillow stays on the bed
    [exit_] = bed.events("bed_exit")
    assert exit_.data["load_kg"] == 3.3
