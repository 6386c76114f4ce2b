"""InfluxQL queries and annotations for Grafana's typed dashboard builders.

Grafana's Python SDK builds panels and dashboards but carries no InfluxDB query type; this
module adds one (`InfluxQL`), shaped as Grafana's InfluxDB data source saves a raw InfluxQL
query, and an annotation that reads events from InfluxQL (`InfluxAnnotation`). `expand` fills
Grafana's macros and variables the way Grafana does before sending a query, so the queries can
be run against a real InfluxDB without Grafana.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model

# The data source every panel reads; provisioning/datasources/bedwatch.yaml creates it.
DATASOURCE_UID = "bedwatch-influxdb"
DATASOURCE = model.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)

ResultFormat = Literal["time_series", "table"]


class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL query of a panel, as Grafana's InfluxDB data source stores it."""

    def __init__(self, query: str, ref_id: str = "A",
                 result_format: ResultFormat = "time_series", alias: str | None = None) -> None:
        self.query = query
        self.ref_id = ref_id
        self.result_format = result_format
        self.alias = alias

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id, "datasource": DATASOURCE.to_json(), "query": self.query,
            "rawQuery": True, "resultFormat": self.result_format}
        if self.alias:
            payload["alias"] = self.alias
        return payload


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Build a raw InfluxQL target: `InfluxQL('SELECT …').ref_id('B').table()`."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(" ".join(query.split()))

    def build(self) -> InfluxQLQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def table(self) -> Self:
        """Return rows and columns rather than time series (tables, stat by row)."""
        self._internal.result_format = "table"
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self


class _InfluxAnnotationQuery(model.AnnotationQuery):
    def __init__(self, name: str, query: str, text_column: str, tags_column: str,
                 color: str) -> None:
        super().__init__(name=name, datasource=DATASOURCE, enable=True, icon_color=color)
        self.query = query
        self.text_column = text_column
        self.tags_column = tags_column

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        # Grafana 10+ reads `target`; older versions the top-level fields. Both are written.
        payload.update({"query": self.query, "textColumn": self.text_column,
                        "tagsColumn": self.tags_column,
                        "target": {"refId": "Anno", "query": self.query, "rawQuery": True,
                                   "resultFormat": "table", "textColumn": self.text_column,
                                   "tagsColumn": self.tags_column}})
        return payload


class InfluxAnnotation(cogbuilder.Builder[model.AnnotationQuery]):
    """Build an annotation whose marks are the rows of an InfluxQL query."""

    def __init__(self, name: str, query: str, *, text_column: str, tags_column: str,
                 color: str = "red") -> None:
        self._internal = _InfluxAnnotationQuery(name, " ".join(query.split()), text_column,
                                                tags_column, color)

    def build(self) -> model.AnnotationQuery:
        return self._internal


def interval_text(ms: int) -> str:
    """Return an interval as Grafana writes `$__interval` ("30s", "5m", "1h", "1d")."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def expand(query: str, *, start_ms: int, end_ms: int, interval_ms: int,
           variables: dict[str, str]) -> str:
    """Return a query as Grafana sends it to InfluxDB: macros and variables filled.

    `$timeFilter` becomes `time >= <start>ms and time <= <end>ms`, `$__interval` Grafana's
    interval for the panel's width, `${__from}`/`${__to}` the range in epoch ms, and `$name`
    or `${name}` a template variable's value (already in regex form where used in `=~`).
    """
    values: dict[str, Any] = {
        "timeFilter": f"time >= {start_ms}ms and time <= {end_ms}ms",
        "__interval_ms": str(interval_ms), "__interval": interval_text(interval_ms),
        "__from": str(start_ms), "__to": str(end_ms), **variables}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"query uses ${name}, which is neither a macro nor a variable")
        return str(values[name])

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", fill, query)
