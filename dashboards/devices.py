"""Devices and agents: is the equipment in each home able to watch — batteries, last reports,
errors, the home unit's outbox and clock, the versions in the field."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import common

from bedwatch.i18n import N_, both
from dashboards.common import (
    BY_SITE_HOME,
    DESK,
    Grid,
    by_name,
    home_variable,
    new_dashboard,
    site_variable,
    steps,
)
from dashboards.influxql import DATASOURCE, InfluxQL

UID = "bedwatch-devices"
LOW_BATTERY_PCT = 20  # the call-button driver's low-battery warning level

_AGENTS = f'FROM "agent_health" WHERE {BY_SITE_HOME} AND $timeFilter'
_DEVICES = f'FROM "device_health" WHERE {BY_SITE_HOME} AND $timeFilter'
_HIDE_TIME = by_name("Time", **{"custom.hidden": True})
_YES_NO = [{"type": "value", "options": {
    "1": {"text": both("Yes", DESK), "color": "green"},
    "0": {"text": both("No", DESK), "color": "red"},
    "-1": {"text": both("Unknown", DESK), "color": "text"}}}]


def dashboard() -> builder.Dashboard:
    """Return the Devices and agents dashboard."""
    grid = Grid()
    board = (new_dashboard(UID, both("Devices and agents", DESK), both(
        "Batteries, last reports and errors of every device; the home unit's outbox, "
        "clock and version.", DESK), "now-24h")
        .with_variable(site_variable()).with_variable(home_variable()))

    for title, query, colour in (
        (N_("Home units with a wrong clock"),
         'SELECT COUNT("clock") AS "wrong_clock" FROM (SELECT LAST("clock_synced") AS '
         f'"clock" {_AGENTS} GROUP BY "home") WHERE "clock" = 0', "orange"),
        (N_("Devices with a low battery"),
         'SELECT COUNT("battery") AS "low_battery" FROM (SELECT LAST("battery_pct") AS '
         f'"battery" {_DEVICES} GROUP BY "home", "device") '
         f'WHERE "battery" <= {LOW_BATTERY_PCT}', "orange"),
        (N_("Devices disconnected"),
         'SELECT COUNT("connected") AS "disconnected" FROM (SELECT LAST("connected") AS '
         f'"connected" {_DEVICES} GROUP BY "home", "device") WHERE "connected" = 0', "red"),
    ):
        # A count of things wrong: green at none, the colour from the first one.
        board = grid.add(board, 8, 5,
            stat.Panel()
            .title(both(title, DESK)).datasource(DATASOURCE)
            .with_target(InfluxQL(query))
            .unit("none").decimals(0).no_value("0")
            .thresholds(steps((None, "green"), (1, colour))))

    board = grid.add(board, 24, 9,
        table.Panel().title(both("Home units", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT LAST("online") AS "online", LAST("version") AS "version", '
            'LAST("outbox_depth") AS "outbox_depth", LAST("clock_synced") AS "clock_synced", '
            'LAST("uptime_s") AS "uptime", LAST("degraded") AS "degraded" '
            f'{_AGENTS} GROUP BY "site", "home"').table())
        .override_by_name(*by_name("online", displayName=both("Online", DESK),
                                   mappings=_YES_NO))
        .override_by_name(*by_name("version", displayName=both("Version", DESK)))
        .override_by_name(*by_name("outbox_depth", displayName=both("Outbox depth", DESK)))
        .override_by_name(*by_name("clock_synced", displayName=both("Clock synchronised",
                                                                     DESK), mappings=_YES_NO))
        .override_by_name(*by_name("uptime", unit="s", displayName=both("Up for", DESK)))
        .override_by_name(*by_name("degraded", displayName=both("Cannot", DESK)))
        .override_by_name(*_HIDE_TIME))

    board = grid.add(board, 24, 9,
        table.Panel().title(both("Devices", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT LAST("connected") AS "connected", LAST("battery_pct") AS "battery", '
            'LAST("errors_total") AS "errors", LAST("last_seen") * 1000 AS "last_seen" '
            f'{_DEVICES} GROUP BY "site", "home", "device"').table())
        .override_by_name(*by_name("connected", displayName=both("Connected", DESK),
                                   mappings=_YES_NO))
        .override_by_name(*by_name("battery", unit="percent", displayName=both(
            "Battery", DESK), thresholds=steps((None, "red"), (LOW_BATTERY_PCT, "green"))
            .build(), **{"custom.cellOptions": {"type": "color-text"}}))
        .override_by_name(*by_name("errors", displayName=both("Errors", DESK)))
        .override_by_name(*by_name("last_seen", unit="dateTimeFromNow",
                                   displayName=both("Last seen", DESK)))
        .override_by_name(*_HIDE_TIME))

    board = grid.add(board, 8, 8,
        timeseries.Panel().title(both("Battery", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            f'SELECT LAST("battery_pct") AS "battery" {_DEVICES} '
            'GROUP BY time($__interval), "home", "device" fill(none)')
            .alias("$tag_home $tag_device"))
        .unit("percent").min(0).max(100)
        .thresholds(steps((None, "red"), (LOW_BATTERY_PCT, "transparent")))
        .thresholds_style(common_builder.GraphThresholdsStyleConfig()
                          .mode(common.GraphThresholdsStyleMode.LINE_AND_AREA)))
    board = grid.add(board, 8, 8,
        timeseries.Panel().title(both("Outbox depth", DESK))
        .description(both("Messages a home unit holds while it cannot reach the hub.", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            f'SELECT MAX("outbox_depth") AS "outbox_depth" {_AGENTS} '
            'GROUP BY time($__interval), "home" fill(none)').alias("$tag_home"))
        .unit("none").decimals(0))
    board = grid.add(board, 8, 8,
        timeseries.Panel().title(both("New device errors", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT NON_NEGATIVE_DIFFERENCE(MAX("errors_total")) AS "errors" '
            f'{_DEVICES} GROUP BY time($__interval), "home", "device" fill(none)')
            .alias("$tag_home $tag_device"))
        .unit("none").decimals(0).draw_style(common.GraphDrawStyle.BARS))
    return board
