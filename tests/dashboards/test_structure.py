"""The committed dashboard JSON is what the code builds, and is a well-formed Grafana model:
unique panel ids, every query on the bedwatch data source, every variable defined and used,
panels inside the grid and not overlapping, titles in Chinese with English beside."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.build import DASHBOARDS, JSON_DIR, PROVISIONING_DIR, load_all, stale, write_all
from dashboards.influxql import DATASOURCE_UID, expand

BOARDS = load_all()
MACROS = {"timeFilter", "__interval", "__interval_ms", "__from", "__to"}
VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _queries(board: dict[str, Any]) -> list[str]:
    queries = [t["query"] for p in board["panels"] for t in p["targets"]]
    queries += [a["target"]["query"] for a in board["annotations"].get("list", [])]
    return queries


def test_committed_json_is_what_the_code_builds() -> None:
    assert stale() == [], "run `bedwatch dashboards build`"
    assert sorted(p.name for p in JSON_DIR.glob("*.json")) == sorted(
        f"{uid}.json" for uid in DASHBOARDS)


def test_the_staleness_check_sees_a_change(tmp_path: Path) -> None:
    write_all(tmp_path)
    assert stale(tmp_path) == []
    path = tmp_path / "bedwatch-fleet.json"
    path.write_text(path.read_text().replace("now-6h", "now-7h"))
    assert stale(tmp_path) == ["bedwatch-fleet"]


@pytest.mark.parametrize("uid", list(BOARDS))
def test_panel_ids_unique_and_grid_without_overlap(uid: str) -> None:
    panels = BOARDS[uid]["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    cells: dict[tuple[int, int], int] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panel {panel['id']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]


@pytest.mark.parametrize("uid", list(BOARDS))
def test_every_query_reads_the_bedwatch_source(uid: str) -> None:
    board = BOARDS[uid]
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "influxdb", "uid": DATASOURCE_UID}
            assert target["rawQuery"] is True and target["query"].startswith("SELECT ")
    for variable in board["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE_UID
    for annotation in board["annotations"].get("list", []):
        assert annotation["datasource"]["uid"] == DATASOURCE_UID


@pytest.mark.parametrize("uid", list(BOARDS))
def test_variables_defined_and_used(uid: str) -> None:
    board = BOARDS[uid]
    defined = [v["name"] for v in board["templating"]["list"]]
    assert "site" in defined
    used: set[str] = set()
    texts = _queries(board) + [v["query"] for v in board["templating"]["list"]]
    for text in texts:
        for match in VARIABLE.finditer(text):
            used.add(match.group(1) or match.group(2))
    assert used - MACROS <= set(defined), f"undefined: {used - MACROS - set(defined)}"
    assert set(defined) <= used, f"defined, never used: {set(defined) - used}"
    # A variable is used only after those it depends on (home after site).
    for index, variable in enumerate(board["templating"]["list"]):
        for match in VARIABLE.finditer(variable["query"]):
            assert (match.group(1) or match.group(2)) in defined[:index]


def test_variable_check_sees_an_undefined_one() -> None:
    with pytest.raises(KeyError, match="nowhere"):
        expand('SELECT 1 FROM "x" WHERE "a" =~ /^$nowhere$/', start_ms=0, end_ms=1,
               interval_ms=1, variables={})


@pytest.mark.parametrize("uid", list(BOARDS))
def test_titles_are_chinese_with_english_beside(uid: str) -> None:
    board = BOARDS[uid]
    titles = [board["title"], *(p["title"] for p in board["panels"]),
              *(v["label"] for v in board["templating"]["list"])]
    for title in titles:
        zh, _, en = title.partition(" / ")
        assert HAN.search(zh) and en and not HAN.search(en), title


def test_panels_declare_units() -> None:
    for board in BOARDS.values():
        for panel in board["panels"]:
            defaults = panel["fieldConfig"]["defaults"]
            overrides = [p for o in panel["fieldConfig"]["overrides"] for p in o["properties"]]
            units = [defaults.get("unit")] + [p["value"] for p in overrides if p["id"] == "unit"]
            if panel["type"] in ("timeseries", "stat"):
                assert any(units), panel["title"]


def test_provisioning_points_at_the_same_source_and_folder() -> None:
    source = yaml.safe_load((PROVISIONING_DIR / "datasources" / "bedwatch.yaml").read_text())
    (datasource,) = source["datasources"]
    assert source["apiVersion"] == 1
    assert datasource["uid"] == DATASOURCE_UID and datasource["type"] == "influxdb"
    assert datasource["jsonData"]["version"] == "InfluxQL"
    provider = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "bedwatch.yaml").read_text())
    (files,) = provider["providers"]
    assert files["type"] == "file" and files["options"]["path"].startswith("/")
    assert files["folderUid"] == "bedwatch" and files["allowUiUpdates"] is False
