"""Resident: one person's nights and vital signs against their own usual, and what happened.

The baseline band is the resident's own: the mean ± 2 standard deviations of each day's
readings, averaged over the 7 days before (a 7-day moving average of daily statistics).
Blood-pressure bands follow the Chinese hypertension guideline (2018, kept by the 2024
revision): grade 1 from 140/90, grade 2 from 160/100, grade 3 from 180/110 mmHg.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.builders import statetimeline, timeseries
from grafana_foundation_sdk.models import common

from bedwatch.i18n import both
from dashboards.common import (
    BY_HOME,
    DESK,
    Grid,
    by_name,
    home_variable,
    new_dashboard,
    site_variable,
    steps,
)
from dashboards.influxql import DATASOURCE, InfluxAnnotation, InfluxQL

UID = "bedwatch-resident"
BASELINE_DAYS = 7
# China 2018 guideline grades (references: Chinese Guidelines for the Management of
# Hypertension 2018), systolic and diastolic lower bounds.
SYSTOLIC_GRADES = ((None, "green"), (140, "yellow"), (160, "orange"), (180, "red"))
DIASTOLIC_GRADES = ((None, "green"), (90, "yellow"), (100, "orange"), (110, "red"))


def _rate(field: str) -> InfluxQL:
    return InfluxQL(f'SELECT MEAN("{field}") AS "rate" FROM "vitals" '
                    f"WHERE {BY_HOME} AND $timeFilter GROUP BY time($__interval) fill(none)")


def _band(field: str) -> InfluxQL:
    # From BASELINE_DAYS before the range, so the band covers the range's first day too.
    return InfluxQL(
        'SELECT "m" - 2 * "s" AS "baseline_low", "m" + 2 * "s" AS "baseline_high" FROM ('
        f'SELECT MOVING_AVERAGE(MEAN("{field}"), {BASELINE_DAYS}) AS "m", '
        f'MOVING_AVERAGE(STDDEV("{field}"), {BASELINE_DAYS}) AS "s" FROM "vitals" '
        f"WHERE {BY_HOME} AND time >= ${{__from}}ms - {BASELINE_DAYS}d "
        "AND time <= ${__to}ms GROUP BY time(1d))").ref_id("B")


def _vital_panel(title: str, field: str, unit: str) -> timeseries.Panel:
    band = {"custom.fillBelowTo": "baseline_low", "custom.lineWidth": 0,
            "custom.fillOpacity": 20, "color": {"mode": "fixed", "fixedColor": "green"}}
    return (timeseries.Panel().title(title)
            .datasource(DATASOURCE).with_target(_rate(field)).with_target(_band(field))
            .unit(unit).span_nulls(3_600_000)
            .override_by_name(*by_name("rate", displayName=title))
            .override_by_name(*by_name("baseline_high", displayName=both(
                "Usual range (own baseline)", DESK), **band))
            .override_by_name(*by_name("baseline_low", displayName=both(
                "Usual range (own baseline)", DESK), **{"custom.lineWidth": 0,
                                                        "color": band["color"]})))


def dashboard() -> builder.Dashboard:
    """Return the Resident dashboard."""
    grid = Grid()
    board = (new_dashboard(UID, both("Resident", DESK), both(
        "One resident: vital signs against their own baseline, nights in bed, blood "
        "pressure, and every event and alert.", DESK), "now-24h")
        .with_variable(site_variable()).with_variable(home_variable(multi=False)))
    board = board.annotation(InfluxAnnotation(
        both("Events", DESK),
        'SELECT "count", "kind", "severity" FROM "events" '
        f"WHERE {BY_HOME} AND \"severity\" != 'info' AND $timeFilter",
        text_column="kind", tags_column="severity", color="orange"))
    board = board.annotation(InfluxAnnotation(
        both("Alert lifecycle", DESK),
        'SELECT "alert_id", "change", "kind", "state" FROM "alert_state" '
        f"WHERE {BY_HOME} AND $timeFilter",
        text_column="change", tags_column="kind,state", color="red"))

    board = grid.add(board, 12, 8, _vital_panel(both("Heart rate", DESK), "heart_rate_bpm",
                                                "bpm"))
    board = grid.add(board, 12, 8, _vital_panel(both("Breathing rate", DESK),
                                                "breathing_rate_bpm", "suffix: /min"))

    board = grid.add(board, 24, 5,
        statetimeline.Panel().title(both("In bed", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT LAST("state") AS "occupancy" FROM "occupancy" '
            f"WHERE {BY_HOME} AND $timeFilter GROUP BY time($__interval) fill(previous)"))
        .merge_values(True).show_value(common.VisibilityMode.NEVER)
        .override_by_name(*by_name("occupancy", displayName=both("Bed", DESK), mappings=[{
            "type": "value", "options": {
                "in_bed": {"text": both("In bed", DESK), "color": "green"},
                "sitting_edge": {"text": both("Sitting on the edge", DESK),
                                 "color": "yellow"},
                "out": {"text": both("Out of bed", DESK), "color": "blue"},
                "other": {"text": both("Someone else on the bed", DESK),
                          "color": "purple"}}}])))

    board = grid.add(board, 12, 8,
        timeseries.Panel()
        .title(both("Bed exits and returns by hour", DESK))
        .description(both("Night-time exits are the ones that matter: a trip that ends "
                          "without a return raises an alert.", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT COUNT("count") AS "exits" FROM "events" '
            f"WHERE {BY_HOME} AND \"kind\" = 'bed_exit' AND $timeFilter "
            "GROUP BY time(1h) fill(0)"))
        .with_target(InfluxQL(
            'SELECT COUNT("count") AS "returns" FROM "events" '
            f"WHERE {BY_HOME} AND \"kind\" = 'bed_return' AND $timeFilter "
            "GROUP BY time(1h) fill(0)").ref_id("B"))
        .unit("none").decimals(0).draw_style(common.GraphDrawStyle.BARS).fill_opacity(70)
        .override_by_name(*by_name("exits", displayName=both("Bed exits", DESK)))
        .override_by_name(*by_name("returns", displayName=both("Back in bed", DESK))))

    board = grid.add(board, 12, 8,
        timeseries.Panel().title(both("Blood pressure", DESK))
        .description(both("Bands of the Chinese hypertension guideline: grade 1 from "
                          "140/90, grade 2 from 160/100, grade 3 from 180/110 mmHg.", DESK))
        .datasource(DATASOURCE).time_from("30d")
        .with_target(InfluxQL(
            'SELECT "systolic_mmhg" AS "systolic", "diastolic_mmhg" AS "diastolic" '
            f'FROM "bp" WHERE {BY_HOME} AND $timeFilter'))
        .unit("suffix: mmHg").show_points(common.VisibilityMode.ALWAYS)
        .thresholds_style(common_builder.GraphThresholdsStyleConfig()
                          .mode(common.GraphThresholdsStyleMode.DASHED_AND_AREA))
        .override_by_name(*by_name("systolic", displayName=both("Systolic", DESK),
                                   thresholds=steps(*SYSTOLIC_GRADES).build()))
        .override_by_name(*by_name("diastolic", displayName=both("Diastolic", DESK),
                                   thresholds=steps(*DIASTOLIC_GRADES).build())))
    return board
