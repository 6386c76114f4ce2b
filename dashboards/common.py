"""What every desk dashboard shares: the station and home variables, the grid, the filters.

Titles are read from the `desk` catalogue as "中文 / English" (`bedwatch.i18n.both`): the desk
reads Simplified Chinese first, and visiting engineers the English beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.models import dashboard as model

from bedwatch.i18n import both
from dashboards.influxql import DATASOURCE

DESK = "desk"
GRID_WIDTH = 24  # Grafana's grid is 24 columns wide
TAGS = ["bedwatch"]
REFRESH = "1m"
ZONE = "Asia/Shanghai"

# The filters a query puts in its WHERE clause; Grafana fills the regex from the variables.
BY_SITE = '"site" =~ /^$site$/'
BY_HOME = '"home" =~ /^$home$/'
BY_SITE_HOME = f"{BY_SITE} AND {BY_HOME}"


def site_variable() -> builder.QueryVariable:
    """Return the station variable: one, several or all stations."""
    return (builder.QueryVariable("site").label(both("Station", DESK))
            .datasource(DATASOURCE)
            .query('SHOW TAG VALUES FROM "home_state" WITH KEY = "site"')
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True).all_value(".*"))


def home_variable(*, multi: bool = True) -> builder.QueryVariable:
    """Return the home variable, limited to the chosen stations."""
    variable = (builder.QueryVariable("home").label(both("Home", DESK))
                .datasource(DATASOURCE)
                .query(f'SHOW TAG VALUES FROM "home_state" WITH KEY = "home" WHERE {BY_SITE}')
                .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
                .sort(model.VariableSort.ALPHABETICAL_ASC))
    if multi:
        variable = variable.multi(True).include_all(True).all_value(".*")
    return variable


# The kinds of panel the desk's dashboards use: each gets its id and place the same way.
PanelBuilder = table.Panel | stat.Panel | timeseries.Panel | statetimeline.Panel


@dataclass
class Grid:
    """Place panels left to right, wrapping at the grid's width; number them from 1."""

    x: int = 0
    y: int = 0
    row_height: int = 0
    next_id: int = 1
    ids: list[int] = field(default_factory=list)

    def place(self, w: int, h: int) -> tuple[int, model.GridPos]:
        """Return the next panel id and its position for a panel `w` wide and `h` high."""
        if self.x + w > GRID_WIDTH:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        pos = model.GridPos(h=h, w=w, x=self.x, y=self.y)
        self.x += w
        self.row_height = max(self.row_height, h)
        panel_id, self.next_id = self.next_id, self.next_id + 1
        return panel_id, pos

    def add(self, board: builder.Dashboard, w: int, h: int,
            panel: PanelBuilder) -> builder.Dashboard:
        """Give `panel` the next id and place, `w` wide and `h` high; return the board with it."""
        panel_id, pos = self.place(w, h)
        return board.with_panel(panel.id(panel_id).grid_pos(pos))


def new_dashboard(uid: str, title: str, description: str, time_from: str) -> builder.Dashboard:
    """Return a desk dashboard with the shared settings."""
    return (builder.Dashboard(title).uid(uid).description(description).tags(TAGS)
            .timezone(ZONE).refresh(REFRESH).time(time_from, "now")
            .tooltip(model.DashboardCursorSync.CROSSHAIR).readonly())


def by_name(name: str, **properties: object) -> tuple[str, list[model.DynamicConfigValue]]:
    """Return an override of a field's display settings, by the field's name."""
    return name, [model.DynamicConfigValue(id_val=key, value=value)
                  for key, value in properties.items()]


def steps(*pairs: tuple[float | None, str]) -> builder.ThresholdsConfig:
    """Return absolute thresholds: (from value, colour), the first from minus infinity."""
    return (builder.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE)
            .steps([model.Threshold(value=value, color=color) for value, color in pairs]))
