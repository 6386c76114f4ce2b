"""Hub configs and registry files: the samples validate; errors name the file and the key;
defaults follow the service terms (arrival within 15 minutes in towns, 30 in villages); a
hub.toml still holding registry tables is refused with the import to run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.config import ConfigError, load_config, load_registry

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hub" / "hub.toml"
REGISTRY_SAMPLE = SAMPLE.with_name("registry.toml")


def test_sample_is_valid_and_relative_paths_resolve(tmp_path: Path) -> None:
    copy = tmp_path / "hub.toml"
    shutil.copy(SAMPLE, copy)
    config = load_config(copy)
    assert config.database.url == f"sqlite:///{tmp_path / 'hub.sqlite'}"
    registry = load_registry(REGISTRY_SAMPLE)
    assert [s.arrival_target_s for s in registry.sites] == [900.0, 1800.0]
    secret = (tmp_path / "hub-secret").read_text()
    assert config.api.secret == secret and len(secret) == 64
    assert load_config(copy).api.secret == secret  # the same key after a restart


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[mqtt]\nport = 70000", "mqtt.port", "less than 65536"),
        ("[influx]\ndatabase = 'a b'", "influx.database", "pattern"),
        ("[heartbeat]\nurl = 'hc-ping.com/abc'", "heartbeat.url", "http(s) or apprise URL"),
        ("[heartbeat]\nurl = 'https://hc-ping.com/abc'\nevery_s = 1", "heartbeat.every_s",
         "greater than or equal to 5"),
        ("[pager]\ndelivery_timeout_s = 0", "pager.delivery_timeout_s", "greater than 0"),
        ("[watchdog]\nhomes_offline_count = 1", "watchdog.homes_offline_count",
         "greater than or equal to 2"),
        ("[watchdog]\nbroker_down_afer_s = 5", "watchdog.broker_down_afer_s",
         "Extra inputs"),
        ("[[homes]]\nid = 'h'\nsite = 's'", "homes",
         "bedwatch hub import-registry --config"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{path}: {key}:" in str(info.value)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[[sites]]\nid = 's'\nname = 'S'\nkind = 'suburban'", "sites[0].kind", "'urban'"),
        ("[[sites]]\nid = 's'\nname = 'S'\n[[caregivers]]\nid = 'c'\nname = 'C'\nsite = 's'\n"
         "notify = []", "caregivers[0].notify", "at least 1"),
        ("[[sites]]\nid = 's'\nname = 'S'\n[[homes]]\nid = 'h'\nsite = 'x'\n"
         "resident = { name = 'R' }", "(top level)", "homes[0].site: unknown site 'x'"),
        ("[[desk]]\nid = 'd'\nname = 'D'\nnotify = ['json://d/']\n"
         "[[technicians]]\nid = 'd'\nname = 'T'\nnotify = ['json://t/']",
         "(top level)", "technicians[0].id: 'd' is already desk[0]"),
        ("[[technicians]]\nid = 't'\nname = 'T'\nnotify = []", "technicians[0].notify",
         "at least 1"),
        ("[mqtt]\nport = 1883\n[[homes]]\nid = 'H 1'\nsite = 's'\nresident = { name = 'R' }",
         "homes[0].id", "pattern"),
        ("[[sites]]\nid = 's'\nname = 'S'\n[[caregivers]]\nid = 'c'\nname = 'C'\nsite = 's'\n"
         "notify = ['json://c/']\n[[overrides]]\nsite = 's'\ncaregiver = 'c'\nrole = 'oncall'\n"
         "start = 2026-01-01T08:00:00+08:00\nend = 2026-01-01T20:00:00",
         "(top level)", "overrides[0].end: give both times with an offset"),
    ],
)
def test_registry_errors_name_file_and_key(tmp_path: Path, text: str, key: str,
                                           expected: str) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    assert f"{path}: {key}:" in str(info.value)
    assert expected in str(info.value)


def test_a_hub_toml_of_the_previous_release_is_imported_as_it_is(tmp_path: Path) -> None:
    both = tmp_path / "hub.toml"
    both.write_text(SAMPLE.read_text() + "\n" + REGISTRY_SAMPLE.read_text())
    with pytest.raises(ConfigError, match="sites: the registry is no longer read"):
        load_config(both)
    # What the import command reads: the service's settings, and the registry beside them.
    assert load_config(both, registry_ok=True).mqtt.client_id == "bedwatch-hub"
    registry = load_registry(both)
    assert [h.id for h in registry.homes] == ["home-001"]


def test_sample_has_a_desk_technicians_and_a_heartbeat(tmp_path: Path) -> None:
    copy = tmp_path / "hub.toml"
    shutil.copy(SAMPLE, copy)
    config = load_config(copy)
    registry = load_registry(REGISTRY_SAMPLE)
    assert registry.desk and registry.technicians
    assert config.heartbeat.url is not None and config.pager.delivery_timeout_s == 20
