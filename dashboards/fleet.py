"""Fleet: which homes need the desk now — by state, by open alert, by silent device."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import common

from bedwatch.i18n import both
from dashboards.common import (
    BY_HOME,
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

UID = "bedwatch-fleet"

# Each home's latest snapshot in the range, then summed over the homes.
_LATEST = f'FROM "home_state" WHERE {BY_SITE_HOME} AND $timeFilter GROUP BY "home"'


def _counts(*names: str) -> str:
    inner = ", ".join(f'LAST("{n}") AS "{n}"' for n in names)
    outer = ", ".join(f'SUM("{n}") AS "{n}"' for n in names)
    return f"SELECT {outer} FROM (SELECT {inner} {_LATEST})"


def dashboard() -> builder.Dashboard:
    """Return the Fleet dashboard."""
    grid = Grid()
    board = (new_dashboard(UID, both("Fleet", DESK), both(
        "Every home's state now: online, offline, a device silent, an alert open.", DESK),
        "now-6h")
        .with_variable(site_variable()).with_variable(home_variable()))

    board = grid.add(board, 12, 5,
        stat.Panel().title(both("Homes by state", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(_counts("online", "offline", "device_silent", "open_alert")))
        .unit("none").decimals(0).color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .thresholds(steps((None, "green")))
        .override_by_name(*by_name("online", displayName=both("Online", DESK)))
        .override_by_name(*by_name("offline", displayName=both("Offline", DESK),
                                   color={"mode": "fixed", "fixedColor": "orange"}))
        .override_by_name(*by_name("device_silent", displayName=both("Device silent", DESK),
                                   color={"mode": "fixed", "fixedColor": "yellow"}))
        .override_by_name(*by_name("open_alert", displayName=both("Alert open", DESK),
                                   color={"mode": "fixed", "fixedColor": "red"})))

    board = grid.add(board, 12, 5,
        stat.Panel().title(both("Open alerts by severity", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(_counts("open_critical", "open_high", "open_low")))
        .unit("none").decimals(0).color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .thresholds(steps((None, "green"), (1, "red")))
        .override_by_name(*by_name("open_critical", displayName=both("Critical", DESK)))
        .override_by_name(*by_name("open_high", displayName=both("High", DESK)))
        .override_by_name(*by_name("open_low", displayName=both("Low", DESK))))

    board = grid.add(board, 24, 10,
        table.Panel()
        .title(both("Homes by urgency", DESK))
        .description(both("The most urgent first: open alerts by severity, then homes that "
                          "cannot be seen. Age is of the oldest alert nobody acknowledged.",
                          DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT LAST("urgency") AS "urgency", LAST("state") AS "state", '
            'LAST("open_critical") AS "critical", LAST("open_high") AS "high", '
            'LAST("open_low") AS "low", LAST("oldest_unacked_s") AS "oldest_unacked", '
            'LAST("silent_devices") AS "silent_devices" '
            f'FROM "home_state" WHERE {BY_SITE_HOME} AND $timeFilter '
            'GROUP BY "site", "home"').table())
        .sort_by([common_builder.TableSortByFieldState().display_name("urgency").desc(True)])
        .override_by_name(*by_name("oldest_unacked", unit="s",
                                   displayName=both("Oldest unacknowledged", DESK)))
        .override_by_name(*by_name("state", displayName=both("State", DESK), mappings=[{
            "type": "value", "options": {
                "online": {"text": both("Online", DESK), "color": "green"},
                "offline": {"text": both("Offline", DESK), "color": "orange"},
                "device_silent": {"text": both("Device silent", DESK), "color": "yellow"},
                "open_alert": {"text": both("Alert open", DESK), "color": "red"}}}]))
        .override_by_name(*by_name("silent_devices",
                                   displayName=both("Silent devices", DESK)))
        .override_by_name(*by_name("Time", **{"custom.hidden": True})))

    board = grid.add(board, 12, 8,
        table.Panel()
        .title(both("Silent bed sensors and call buttons", DESK))
        .description(both("Homes with a device that has not reported within its supervision "
                          "time.", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT "silent", "devices" FROM (SELECT LAST("device_silent") AS "silent", '
            f'LAST("silent_devices") AS "devices" {_LATEST}) WHERE "silent" = 1 '
            'GROUP BY "home"').table())
        .override_by_name(*by_name("devices", displayName=both("Silent devices", DESK))))

    board = grid.add(board, 12, 8,
        table.Panel()
        .title(both("Last reading per home", DESK))
        .description(both("When each home's bed sensor last sent a reading.", DESK))
        .datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT LAST("load_kg") AS "bed_load" FROM "bed" '
            f'WHERE {BY_HOME} AND $timeFilter GROUP BY "home"').table())
        .sort_by([common_builder.TableSortByFieldState().display_name("Time")])
        .override_by_name(*by_name("bed_load", unit="masskg",
                                   displayName=both("Bed load", DESK))))

    board = grid.add(board, 24, 8,
        timeseries.Panel()
        .title(both("Open alerts over time", DESK)).datasource(DATASOURCE)
        .with_target(InfluxQL(
            'SELECT SUM("critical") AS "critical", SUM("high") AS "high", SUM("low") AS "low" '
            'FROM (SELECT LAST("open_critical") AS "critical", LAST("open_high") AS "high", '
            'LAST("open_low") AS "low" '
            f'FROM "home_state" WHERE {BY_SITE_HOME} AND $timeFilter '
            'GROUP BY time($__interval), "home") GROUP BY time($__interval)'))
        .unit("none").decimals(0).draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
        .stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL))
        .override_by_name(*by_name("critical", displayName=both("Critical", DESK),
                                   color={"mode": "fixed", "fixedColor": "dark-red"}))
        .override_by_name(*by_name("high", displayName=both("High", DESK),
                                   color={"mode": "fixed", "fixedColor": "orange"}))
        .override_by_name(*by_name("low", displayName=both("Low", DESK),
                                   color={"mode": "fixed", "fixedColor": "yellow"})))
    return board
