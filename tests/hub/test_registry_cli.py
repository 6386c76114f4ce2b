"""The registry's commands: the import of a registry file (or an older hub.toml as it is),
adding, changing, listing and retiring records, a site's rota, and a resident's export and
erasure against a real InfluxDB; bad input exits 2 with the file and key named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bedwatch.cli import app
from hub.db import AuditEntry, Home, Resident, make_engine, make_sessionmaker
from rig.stack import InfluxDB

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hub"


def _hub_toml(tmp_path: Path, influx_url: str = "http://127.0.0.1:9") -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(f'[database]\nurl = "sqlite:///hub.sqlite"\n[influx]\nurl = "{influx_url}"\n'
                    'database = "cli_rights"\n[api]\nsecret = "' + "x" * 32 + '"\n')
    return path


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, list(args))
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def _rows(tmp_path: Path, model: type) -> list:  # type: ignore[type-arg]
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    with make_sessionmaker(engine)() as session:
        rows = list(session.scalars(select(model)))
    engine.dispose()
    return rows


def test_import_then_add_change_and_retire(tmp_path: Path) -> None:
    config = str(_hub_toml(tmp_path))
    out = run("hub", "import-registry", "--config", config, str(EXAMPLES / "registry.toml"))
    assert "2 sites" in out and "1 homes" in out
    assert "qingshan\tactive\tQingshan Street care station (urban)" in run(
        "hub", "registry", "list", "site", "--config", config)
    home = run("hub", "registry", "add", "home", "--config", config, "--set", "site=shangping",
               "--set", "address=Shangping 7", "--set", "resident.name=Zhao Ming",
               "--set", 'resident.care_categories=["empty_nest"]',
               "--set", "resident.consent.bed_sensor=true").strip()
    assert home.startswith("h-")
    run("hub", "registry", "update", "home", home, "--config", config, "--set", "lat=30.5",
        "--set", "lon=120.1")
    run("hub", "registry", "add", "device", "--config", config, "--set", f"home={home}",
        "--set", "id=bed", "--set", "type=bed_sensor")
    run("hub", "registry", "deactivate", "device", f"{home}/bed", "--config", config)
    assert f"{home}/bed\tinactive" in run("hub", "registry", "list", "device", "--config",
                                          config)
    run("hub", "registry", "deactivate", "home", "home-001", "--config", config)
    homes = {h.id: h for h in _rows(tmp_path, Home)}
    assert homes[home].lat == 30.5 and not homes["home-001"].active
    [zhao] = [r for r in _rows(tmp_path, Resident) if r.home_id == home]
    assert zhao.care_categories == ["empty_nest"] and zhao.consent["bed_sensor"] is True
    rota = tmp_path / "rota.toml"
    rota.write_text('[[shifts]]\ncaregiver = "cg-zhang"\nrole = "oncall"\ndays = ["mon"]\n'
                    'start = "08:00"\nend = "20:00"\n')
    assert "1 shift(s)" in run("hub", "registry", "rota", "qingshan", "--config", config,
                               str(rota))
    assert "MQTT 127.0.0.1:1883" in run("hub", "check", "--config", config)


def test_an_older_hub_toml_imports_as_it_is_and_is_then_refused(tmp_path: Path) -> None:
    both = tmp_path / "hub.toml"
    both.write_text(_hub_toml(tmp_path).read_text() + (EXAMPLES / "registry.toml").read_text())
    run("hub", "import-registry", "--config", str(both), str(both))
    assert {h.id for h in _rows(tmp_path, Home)} == {"home-001"}
    out = run("hub", "check", "--config", str(both), ok=False)
    assert f"{both}: sites: the registry is no longer read" in out
    assert "bedwatch hub import-registry" in out


@pytest.mark.parametrize(("args", "expected"), [
    (("add", "home", "--set", "site=nowhere"), "site: unknown site 'nowhere'"),
    (("add", "home", "--set", "site=qingshan", "--set", "colour=red"), "colour"),
    (("add", "spaceship"), "unknown kind 'spaceship'"),
    (("update", "resident", "r-missing", "--set", "name=X"), "no resident 'r-missing'"),
    (("deactivate", "device", "no-slash"), "<home>/<device>"),
])
def test_bad_input_exits_2_with_the_reason(tmp_path: Path, args: tuple[str, ...],
                                           expected: str) -> None:
    config = str(_hub_toml(tmp_path))
    run("hub", "import-registry", "--config", config, str(EXAMPLES / "registry.toml"))
    out = run("hub", "registry", *args, "--config", config, ok=False)
    assert expected in out


def test_a_bad_registry_file_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "registry.toml"
    bad.write_text("[[sites]]\nid = 's'\nname = 'S'\nkind = 'suburban'\n")
    out = run("hub", "import-registry", "--config", str(_hub_toml(tmp_path)), str(bad),
              ok=False)
    assert f"{bad}: sites[0].kind:" in out


def test_export_and_erase_a_resident_from_the_command_line(tmp_path: Path,
                                                           influxdb: InfluxDB) -> None:
    config = str(_hub_toml(tmp_path, influxdb.url))
    run("hub", "import-registry", "--config", config, str(EXAMPLES / "registry.toml"))
    [resident] = _rows(tmp_path, Resident)
    exported = tmp_path / "export.json"
    run("hub", "registry", "export-resident", resident.id, "--config", config, "-o",
        str(exported))
    data = json.loads(exported.read_text())
    assert data["resident"]["name"] == "Wang Guirong 王桂荣" and data["readings"] == {}
    assert exported.stat().st_mode & 0o077 == 0
    out = run("hub", "registry", "erase-resident", resident.id, "--config", config, "--yes",
              "--actor", "admin-li")
    assert "erased resident" in out and "1 residents" in out
    assert _rows(tmp_path, Resident) == []
    [entry] = [a for a in _rows(tmp_path, AuditEntry) if a.action == "resident_erased"]
    assert entry.actor == "admin-li"
