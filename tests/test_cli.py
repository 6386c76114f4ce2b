"""The `bedwatch` command validates configs and refuses what it does not know."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bedwatch.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()


def test_edge_check_accepts_the_sample() -> None:
    result = runner.invoke(app, ["edge", "check", "--config", str(EXAMPLES / "edge/home.toml")])
    assert result.exit_code == 0, result.output
    assert "home home-001, 1 device(s)" in result.output
    assert "bedside-button: call_button" in result.output


def test_edge_check_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "home.toml"
    bad.write_text('home = "h"\n[outbox]\nmax_reading_messages = 5\n')
    result = runner.invoke(app, ["edge", "check", "--config", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: outbox.max_reading_messages:" in result.output


def test_hub_check_accepts_the_sample(tmp_path: Path) -> None:
    copy = tmp_path / "hub.toml"
    copy.write_text((EXAMPLES / "hub/hub.toml").read_text())
    result = runner.invoke(app, ["hub", "check", "--config", str(copy)])
    assert result.exit_code == 0, result.output
    assert "MQTT mqtt.care.example.org:8883" in result.output and "database sqlite" in result.output
    # A check writes nothing: no signing key and no database appear beside the config.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub.toml"]


def test_unknown_simulator_is_refused() -> None:
    result = runner.invoke(app, ["sim", "toaster"])
    assert result.exit_code != 0
    assert "no simulator named 'toaster'" in result.output
