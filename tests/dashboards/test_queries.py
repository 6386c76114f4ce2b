"""Every panel's, annotation's and variable's InfluxQL, expanded as Grafana expands it, runs
against a real InfluxDB filled by a simulated day through the real hub, returns the columns
the panel reads, and returns data; a few figures are checked against what the day held."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboards.build import load_all
from dashboards.influxql import expand
from rig.stack import InfluxDB, Mosquitto
from tests.dashboards import simday

pytestmark = pytest.mark.e2e

DASHBOARDS = load_all()
HOME = "home-1"  # the resident shown where a dashboard shows one
TIME_COLUMNS = {"Time", "time"}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxDB) -> Iterator[str]:
    """The database holding the simulated day (filled once for this module)."""
    root = tmp_path_factory.mktemp("desk")
    broker = Mosquitto(root / "mosquitto")
    broker.start()
    database = f"desk_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(simday.fill(root, broker, influxdb, database))
    finally:
        broker.stop()
    yield database


def run(influxdb: InfluxDB, database: str, query: str) -> list[dict[str, Any]]:
    response = httpx.post(f"{influxdb.url}/query", data={"db": database, "q": query,
                                                         "epoch": "ms"}, timeout=30)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    result = response.json()["results"][0]
    assert "error" not in result, f"{result['error']} in {query}"
    return list(result.get("series", []))


def _range(panel: dict[str, Any]) -> tuple[int, int]:
    end = int(simday.T_END * 1000)
    span = panel.get("timeFrom") or "1d"
    number, unit = int(span[:-1]), span[-1]
    days = {"d": 1, "y": 365}[unit] * number
    return end - days * 86_400_000, end


def _interval_ms(start: int, end: int) -> int:
    """Grafana's `$__interval` for a panel about 1000 px wide, rounded to a whole unit."""
    raw = (end - start) // 1000
    for nice in (10_000, 60_000, 300_000, 600_000, 3_600_000, 86_400_000):
        if raw <= nice:
            return nice
    return 86_400_000


def _variables(board: dict[str, Any]) -> dict[str, str]:
    values = {}
    for variable in board["templating"]["list"]:
        if variable["name"] == "home" and not variable.get("multi"):
            values["home"] = HOME
        else:
            values[variable["name"]] = variable.get("allValue", ".*")
    return values


def _aliases(query: str) -> set[str]:
    """Return the names the outermost SELECT gives its columns."""
    outer = query.split(" FROM ", 1)[0]
    return set(re.findall(r'AS "(\w+)"', outer))


def _names_read(panel: dict[str, Any]) -> set[str]:
    """Return the field names a panel's settings refer to: overrides, sorting, bands."""
    names = set()
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        matcher = override["matcher"]
        if matcher["id"] == "byName":
            names.add(matcher["options"])
        for prop in override["properties"]:
            if prop["id"] == "custom.fillBelowTo":
                names.add(prop["value"])
    for sort in panel.get("options", {}).get("sortBy", []) or []:
        names.add(sort["displayName"])
    return names - TIME_COLUMNS


def _cases() -> Iterator[Any]:
    for uid, board in DASHBOARDS.items():
        for panel in board["panels"]:
            yield pytest.param(uid, panel["id"], id=f"{uid}-{panel['id']}")


def _series_names(series: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for one in series:
        names.update(one["columns"])
        names.update(one.get("tags", {}))
    return names


@pytest.mark.parametrize(("uid", "panel_id"), list(_cases()))
def test_panel_query_runs_and_returns_its_columns(filled: str, influxdb: InfluxDB, uid: str,
                                                   panel_id: int) -> None:
    board = DASHBOARDS[uid]
    panel = next(p for p in board["panels"] if p["id"] == panel_id)
    start, end = _range(panel)
    found: set[str] = set()
    for target in panel["targets"]:
        query = expand(target["query"], start_ms=start, end_ms=end,
                       interval_ms=_interval_ms(start, end), variables=_variables(board))
        series = run(influxdb, filled, query)
        assert series, f"no data for {panel['title']!r} ({target['refId']}): {query}"
        assert any(one.get("values") for one in series)
        names = _series_names(series)
        assert _aliases(target["query"]) <= names, (panel["title"], names)
        found |= names
    missing = _names_read(panel) - found
    assert not missing, f"{panel['title']!r} reads {missing}, its queries give {found}"


@pytest.mark.parametrize("uid", list(DASHBOARDS))
def test_annotations_and_variables_return_data(filled: str, influxdb: InfluxDB,
                                               uid: str) -> None:
    board = DASHBOARDS[uid]
    start, end = int(simday.T_START * 1000), int(simday.T_END * 1000)
    for variable in board["templating"]["list"]:
        query = expand(variable["query"], start_ms=start, end_ms=end, interval_ms=60_000,
                       variables=_variables(board))
        values = {row[1] for one in run(influxdb, filled, query) for row in one["values"]}
        assert values, variable["name"]
        assert values <= set(simday.HOMES) | set(simday.HOMES.values())
    for annotation in board["annotations"].get("list", []):
        query = expand(annotation["target"]["query"], start_ms=start, end_ms=end,
                       interval_ms=60_000, variables=_variables(board))
        series = run(influxdb, filled, query)
        assert series, annotation["name"]
        columns = set(series[0]["columns"])
        for column in (annotation["textColumn"], *annotation["tagsColumn"].split(",")):
            assert column in columns, (annotation["name"], column)


def _values(influxdb: InfluxDB, database: str, query: str) -> list[dict[str, Any]]:
    rows = []
    for one in run(influxdb, database, query):
        for row in one["values"]:
            rows.append({**one.get("tags", {}), **dict(zip(one["columns"], row, strict=True))})
    return rows


def _panel_query(uid: str, title_start: str, ref: str = "A") -> tuple[dict[str, Any], str]:
    board = DASHBOARDS[uid]
    panel = next(p for p in board["panels"] if p["title"].split(" / ")[-1]
                 .startswith(title_start))
    target = next(t for t in panel["targets"] if t["refId"] == ref)
    start, end = _range(panel)
    return panel, expand(target["query"], start_ms=start, end_ms=end,
                         interval_ms=_interval_ms(start, end), variables=_variables(board))


def test_fleet_figures_match_the_day(filled: str, influxdb: InfluxDB) -> None:
    _, query = _panel_query("bedwatch-fleet", "Homes by state")
    (states,) = _values(influxdb, filled, query)
    # home-3 went offline; home-2 has a silent call button; home-1 a call nobody answered.
    assert (states["online"], states["offline"]) == (2, 1)
    assert states["device_silent"] == 1 and states["open_alert"] == 1
    _, query = _panel_query("bedwatch-fleet", "Homes by urgency")
    rows = sorted(_values(influxdb, filled, query), key=lambda r: -r["urgency"])
    assert rows[0]["home"] == "home-1" and rows[0]["critical"] == 1
    assert rows[0]["oldest_unacked"] > 0
    _, query = _panel_query("bedwatch-fleet", "Silent bed sensors")
    (silent,) = _values(influxdb, filled, query)
    assert silent["home"] == "home-2" and silent["devices"] == "call-button"


def test_service_level_figures_match_the_day(filled: str, influxdb: InfluxDB) -> None:
    _, query = _panel_query("bedwatch-service-levels", "Time to acknowledge per station")
    by_site = {r["site"]: r for r in _values(influxdb, filled, query)}
    # Town: acknowledged after 4, 18 and 2 minutes; the village after 6.
    assert by_site["town"]["alerts"] == 3 and by_site["town"]["median"] == pytest.approx(4.0)
    assert by_site["village"]["median"] == pytest.approx(6.0)
    _, query = _panel_query("bedwatch-service-levels", "Time to arrive on site per station")
    by_site = {r["site"]: r for r in _values(influxdb, filled, query)}
    # Town: on site after 12 and 35 minutes, and the false alarm closed at the door after 7.
    assert by_site["town"]["alerts"] == 3 and by_site["town"]["median"] == pytest.approx(12.0)
    assert by_site["village"]["median"] == pytest.approx(25.0)
    _, query = _panel_query("bedwatch-service-levels", "Target breaches per station")
    by_site = {r["site"]: r for r in _values(influxdb, filled, query)}
    # Late at the door: the fall (35 min, target 15) and the call nobody answered.
    assert by_site["town"]["arrival_breaches"] == 2
    assert by_site["village"]["arrival_breaches"] == 0
    _, query = _panel_query("bedwatch-service-levels", "False alarms by kind")
    by_kind = {r["kind"]: r for r in _values(influxdb, filled, query)}
    assert by_kind["call"]["false_share"] == pytest.approx(200 / 3)
    assert by_kind["fall"]["false_share"] == 0


def test_resident_band_surrounds_the_usual_heart_rate(filled: str, influxdb: InfluxDB) -> None:
    _, query = _panel_query("bedwatch-resident", "Heart rate", ref="B")
    rows = _values(influxdb, filled, query)
    assert rows
    for row in rows:  # home-1's heart rate is drawn around 62 bpm with an SD of 3
        assert 50 < row["baseline_low"] < 62 < row["baseline_high"] < 74


def test_data_model_document_names_every_measurement_the_dashboards_read() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "data-model.md").read_text()
    measurements = set()
    for board in DASHBOARDS.values():
        queries = [t["query"] for p in board["panels"] for t in p["targets"]]
        for query in queries:
            measurements.update(re.findall(r'FROM (?:"long"\.)?"(\w+)"', query))
    assert measurements
    for name in measurements:
        assert f"`{name}`" in text, name
