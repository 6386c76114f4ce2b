"""Service levels: how fast each station answers and arrives, and how often alarms are false.

The figures a home-care-bed contract and the civil-affairs supervision platform ask for: time
to acknowledge and to arrive on site (median and 90th percentile), breaches of the station's
targets (15 minutes in towns, 30 in remote villages by default), alerts per bed-day and the
share of false alarms by kind. Each alert counts once: its times are written on the step
where they became known (docs/data-model.md).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import common

from bedwatch.i18n import both
from dashboards.common import BY_SITE, DESK, Grid, by_name, new_dashboard, site_variable, steps
from dashboards.influxql import DATASOURCE, InfluxQL

UID = "bedwatch-service-levels"
ACK_TARGET_MIN = 15  # the urban arrival and acknowledgement target (references §6)
RURAL_TARGET_MIN = 30

_ALERTS = f'FROM "alert_state" WHERE {BY_SITE} AND $timeFilter'


def _times(field: str) -> InfluxQL:
    return InfluxQL(
        f'SELECT MEDIAN("{field}") / 60 AS "median", PERCENTILE("{field}", 90) / 60 AS "p90", '
        f'COUNT("{field}") AS "alerts" {_ALERTS} GROUP BY "site"').table()


def _minutes_overrides(panel: table.Panel) -> table.Panel:
    return (panel.thresholds(steps((None, "green"), (ACK_TARGET_MIN, "orange"),
                                   (RURAL_TARGET_MIN, "red")))
            .override_by_name(*by_name("median", unit="m", decimals=1,
                                       displayName=both("Median", DESK),
                                       **{"custom.cellOptions": {"type": "color-text"}}))
            .override_by_name(*by_name("p90", unit="m", decimals=1,
                                       displayName=both("90th percentile", DESK),
                                       **{"custom.cellOptions": {"type": "color-text"}}))
            .override_by_name(*by_name("alerts", unit="none",
                                       displayName=both("Alerts", DESK)))
            .override_by_name(*by_name("site", displayName=both("Station", DESK)))
            .override_by_name(*by_name("Time", **{"custom.hidden": True})))


def dashboard() -> builder.Dashboard:
    """Return the Service levels dashboard."""
    grid = Grid()
    board = (new_dashboard(UID, both("Service levels", DESK), both(
        "Time to acknowledge and to arrive per station, target breaches, alerts per "
        "bed-day and false alarms: the contract's figures.", DESK), "now-30d")
        .with_variable(site_variable()))

    board = grid.add(board, 12, 7, _minutes_overrides(
        table.Panel()
        .title(both("Time to acknowledge per station", DESK)).datasource(DATASOURCE)
        .with_target(_times("seconds_to_ack"))))
    board = grid.add(board, 12, 7, _minutes_overrides(
        table.Panel()
        .title(both("Time to arrive on site per station", DESK)).datasource(DATASOURCE)
        .with_target(_times("seconds_to_site"))))

    board = grid.add(board, 24, 8,
        timeseries.Panel()
        .title(both("Time to acknowledge and arrive, by day", DESK)).datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT MEDIAN("seconds_to_ack") / 60 AS "ack_median", '
            'PERCENTILE("seconds_to_ack", 90) / 60 AS "ack_p90", '
            'MEDIAN("seconds_to_site") / 60 AS "site_median", '
            f'PERCENTILE("seconds_to_site", 90) / 60 AS "site_p90" {_ALERTS} '
            "GROUP BY time(1d) fill(none)"))
        .unit("m").thresholds(steps((None, "transparent"), (ACK_TARGET_MIN, "orange"),
                                    (RURAL_TARGET_MIN, "red")))
        .override_by_name(*by_name("ack_median", displayName=both(
            "Acknowledge: median", DESK)))
        .override_by_name(*by_name("ack_p90", displayName=both(
            "Acknowledge: 90th percentile", DESK)))
        .override_by_name(*by_name("site_median", displayName=both(
            "Arrive: median", DESK)))
        .override_by_name(*by_name("site_p90", displayName=both(
            "Arrive: 90th percentile", DESK))))

    board = grid.add(board, 8, 7,
        table.Panel()
        .title(both("Target breaches per station", DESK)).datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT SUM("ack_breach") AS "ack_breaches", '
            f'SUM("arrival_breach") AS "arrival_breaches" {_ALERTS} GROUP BY "site"').table())
        .override_by_name(*by_name("ack_breaches", displayName=both(
            "Acknowledged late", DESK)))
        .override_by_name(*by_name("arrival_breaches", displayName=both(
            "Arrived late", DESK)))
        .override_by_name(*by_name("Time", **{"custom.hidden": True})))

    board = grid.add(board, 8, 7,
        timeseries.Panel()
        .title(both("Alerts per bed-day", DESK)).datasource(DATASOURCE)
        .description(both("Alerts opened per home and day of monitoring.", DESK))
        .with_target(InfluxQL(
            'SELECT SUM("alerts_opened") / SUM("bed_days") AS "per_bed_day" '
            f'FROM "home_state" WHERE {BY_SITE} AND $timeFilter '
            'GROUP BY time(1d), "site" fill(none)').alias("$tag_site"))
        .unit("none").decimals(2).draw_style(common.GraphDrawStyle.BARS).fill_opacity(70))

    board = grid.add(board, 8, 7,
        table.Panel()
        .title(both("False alarms by kind", DESK)).datasource(DATASOURCE)
        .description(both("Share of the alerts a person closed that were false alarms.",
                          DESK))
        .with_target(InfluxQL(
            'SELECT MEAN("false_alarm") * 100 AS "false_share", COUNT("false_alarm") AS '
            f'"judged" {_ALERTS} GROUP BY "kind"').table())
        .override_by_name(*by_name("false_share", unit="percent", decimals=0,
                                   displayName=both("False alarms", DESK),
                                   **{"custom.cellOptions": {"type": "gauge"}}))
        .override_by_name(*by_name("judged", displayName=both("Closed by a person", DESK)))
        .override_by_name(*by_name("kind", displayName=both("Kind", DESK)))
        .override_by_name(*by_name("Time", **{"custom.hidden": True})))

    board = grid.add(board, 12, 8,
        timeseries.Panel()
        .title(both("Alerts opened by severity", DESK)).datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT COUNT("alert_id") AS "opened" FROM "alert_state" '
            f"WHERE {BY_SITE} AND \"change\" = 'opened' AND $timeFilter "
            'GROUP BY time($__interval), "severity" fill(none)').alias("$tag_severity"))
        .unit("none").decimals(0).draw_style(common.GraphDrawStyle.BARS).fill_opacity(70))

    board = grid.add(board, 12, 8,
        timeseries.Panel()
        .title(both("Alerts per bed-day, by week (long range)", DESK)).datasource(DATASOURCE)
        .description(both("From the daily roll-ups kept five years.", DESK))
        .time_from("1y")
        .with_target(InfluxQL(
            'SELECT SUM("alerts_opened") / SUM("bed_days") AS "per_bed_day" '
            f'FROM "long"."home_state_1d" WHERE {BY_SITE} AND $timeFilter '
            'GROUP BY time(7d), "site" fill(none)').alias("$tag_site"))
        .unit("none").decimals(2))
    return board
