"""Agent configs: the samples validate; every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "edge"


def test_sample_config_is_valid() -> None:
    config = load_config(EXAMPLES / "home.toml")
    assert config.home == "home-001"
    assert config.mqtt.password == "secret"  # read from the password file beside it
    assert [d.type for d in config.devices] == ["call_button"]


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('home = "Home 1"', "home", "String should match pattern"),
        ('home = "h"\n[mqtt]\nport = 0', "mqtt.port", "greater than 0"),
        ('home = "h"\n[mqtt]\nprot = 1', "mqtt.prot", "Extra inputs"),
        ('home = "h"\n[[devices]]\ntype = "call_button"\nid = "b"\nport = "/dev/x"\n'
         'baudrate = "fast"', "devices[0].baudrate", "valid integer"),
        ('home = "h"\n[[devices]]\ntype = "toaster"\nid = "b"', "devices[0].type", "call_button"),
        ('home = "h"\n[[devices]]\ntype = "call_button"\nid = "b"\nport = "/a"\n'
         '[[devices]]\ntype = "call_button"\nid = "b"\nport = "/b"', "(top level)", "repeated: b"),
        ('home = "h"\n[detectors]\ntimezone = "GMT+8:00"', "detectors.timezone",
         "not an IANA time zone"),
        ('home = "h"\n[[devices]]\ntype = "bed_sensor"\nid = "bed"\nport = "/a"\n'
         '[detectors.occupancy]\ndevice = "bed-2"', "(top level)",
         "detectors.occupancy.device: 'bed-2' is not a configured bed board"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = tmp_path / "home.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}: {key}:" in message
    assert expected in message


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("home = ")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize("sample", sorted((EXAMPLES / "devices").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_every_driver_sample_config_is_valid(tmp_path: Path, sample: Path) -> None:
    path = tmp_path / "home.toml"
    path.write_text('home = "home-001"\n' + sample.read_text())
    config = load_config(path)
    assert config.devices and all(d.type == sample.stem for d in config.devices)


def test_every_registered_driver_has_a_sample() -> None:
    from edge.drivers import DRIVERS

    documented = {p.stem for p in (EXAMPLES / "devices").glob("*.toml")} | {"call_button"}
    assert documented == set(DRIVERS)
