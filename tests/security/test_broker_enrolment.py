"""`bedwatch hub broker-init`, `enrol-home` and `revoke-home` against a real Mosquitto with the
dynamic-security plugin: the files they write work, and nothing else does."""

from __future__ import annotations

import asyncio
import re
import stat
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bedwatch import wire
from bedwatch.cli import app
from edge.config import load_config as load_edge_config
from hub.broker import BrokerCredentials
from hub.config import load_config as load_hub_config
from hub.db import Home, Resident, make_engine, make_sessionmaker
from hub.enrolment import enrol
from hub.registry import create_site
from hub.registry.models import SiteIn
from rig.stack import Mosquitto
from tests.livehub import T, connect, until
from tests.security.test_broker_acl import hub_ingest

runner = CliRunner()


def _hub_toml(tmp_path: Path, broker: Mosquitto, *, admin: bool = True) -> Path:
    path = tmp_path / "hub" / "hub.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    admin_table = (f'[broker_admin]\nusername = "admin"\n'
                   f'password_file = "{broker.admin_password_file}"\n') if admin else ""
    path.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n'
                    f'client_id = "bedwatch-hub"\npassword_file = "hub-mqtt-password"\n'
                    f'{admin_table}'
                    f'[api]\nsecret = "{"s" * 32}"\n')
    with _registry(path) as session:  # the station that enrolled homes belong to
        create_site(session, SiteIn(id="town", name="Town station"))
        session.commit()
    return path


def _registry(hub_toml: Path) -> Session:
    return make_sessionmaker(make_engine(load_hub_config(hub_toml).database.url))()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_broker_init_enrol_and_revoke_through_the_cli(tmp_path: Path,
                                                      mosquitto: Mosquitto) -> None:
    hub_toml = _hub_toml(tmp_path, mosquitto)
    result = runner.invoke(app, ["hub", "broker-init", "--config", str(hub_toml)])
    assert result.exit_code == 0, result.output
    assert "bedwatch-hub-readings" in result.output
    hub_password = hub_toml.parent / "hub-mqtt-password"
    assert _mode(hub_password) == 0o600
    first = hub_password.read_text()
    # A second run keeps the password, so a running hub is not locked out.
    assert runner.invoke(app, ["hub", "broker-init", "--config", str(hub_toml)]).exit_code == 0
    assert hub_password.read_text() == first

    out = tmp_path / "pi" / "edge.toml"
    result = runner.invoke(app, ["hub", "enrol-home", "--config", str(hub_toml),
                                 "--out", str(out), "--site", "town", "--resident", "Wang Guirong",
                                 "--address", "Qingshan Road 12"])
    assert result.exit_code == 0, result.output
    home = result.output.strip()
    assert re.fullmatch(r"h-[0-9a-f]{8}", home)
    with _registry(hub_toml) as session:  # the registry row, made in the same step
        row = session.get(Home, home)
        assert row is not None and (row.site_id, row.address) == ("town", "Qingshan Road 12")
        assert [r.name for r in session.scalars(select(Resident).where(
            Resident.home_id == home))] == ["Wang Guirong"]
    password_file = out.with_name("edge.toml.mqtt-password")
    assert _mode(password_file) == 0o600
    edge = load_edge_config(out)
    assert (edge.home, edge.mqtt.username, edge.mqtt.client_id) == (home, home, home)
    assert (edge.mqtt.host, edge.mqtt.port, edge.mqtt.tls) == ("127.0.0.1", mosquitto.port, False)
    assert edge.mqtt.password == password_file.read_text().strip()

    async def home_and_hub_talk() -> None:
        hub_cfg = load_hub_config(hub_toml)
        assert hub_cfg.mqtt.password_file is not None
        hub_cfg.mqtt.password_file = hub_toml.parent / hub_cfg.mqtt.password_file
        credentials = BrokerCredentials(home, edge.mqtt.password or "", home)
        async with hub_ingest(mosquitto, "hub-check") as (_, received), \
                connect(mosquitto, credentials) as c:
            await c.publish(wire.status_topic(home), wire.encode(
                wire.AgentStatus(agent=home, state="online", t=T)), qos=1)
            await until(lambda: received)
        # Both of the hub's lanes connect with the password broker-init wrote.
        for lane in ("bedwatch-hub", "bedwatch-hub-readings"):
            async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=lane,
                                      username=lane, password=hub_cfg.mqtt.read_password()):
                pass

    asyncio.run(home_and_hub_talk())

    # Refuses to overwrite the Pi's config by accident; --force rotates the password.
    again = runner.invoke(app, ["hub", "enrol-home", "--config", str(hub_toml), "--out",
                                str(out), "--home", home])
    assert again.exit_code == 2 and "exists" in again.output
    rotated = runner.invoke(app, ["hub", "enrol-home", "--config", str(hub_toml), "--out",
                                  str(out), "--home", home, "--force"])
    assert rotated.exit_code == 0 and rotated.output.strip() == home
    assert load_edge_config(out).mqtt.password != edge.mqtt.password

    result = runner.invoke(app, ["hub", "revoke-home", "--config", str(hub_toml), home])
    assert result.exit_code == 0 and f"revoked {home}" in result.output

    async def refused() -> None:
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=home,
                                      username=home, password=load_edge_config(out).mqtt.password,
                                      timeout=5):
                pass

    asyncio.run(refused())


def test_enrol_home_for_tls_writes_the_ca_and_the_broker_address(tmp_path: Path,
                                                                 mosquitto: Mosquitto) -> None:
    hub_toml = _hub_toml(tmp_path, mosquitto)
    out = tmp_path / "edge.toml"
    result = runner.invoke(app, ["hub", "enrol-home", "--config", str(hub_toml), "--out",
                                 str(out), "--home", "home-007", "--site", "town", "--broker-host",
                                 "mqtt.care.example", "--broker-port", "8883",
                                 "--ca-file", "/etc/bedwatch/ca.pem"])
    assert result.exit_code == 0, result.output
    mqtt = load_edge_config(out).mqtt
    assert (mqtt.host, mqtt.port, mqtt.tls, str(mqtt.ca_file)) == (
        "mqtt.care.example", 8883, True, "/etc/bedwatch/ca.pem")


def test_enrolment_creates_the_registry_row_first(tmp_path: Path, mosquitto: Mosquitto) -> None:
    registered: list[str] = []
    credentials = enrol(_hub_toml(tmp_path, mosquitto), tmp_path / "edge.toml",
                        register=registered.append)
    assert registered == [credentials.home]


@pytest.mark.parametrize("args, key", [
    (["hub", "broker-init"], "broker_admin.password_file"),
    (["hub", "enrol-home", "--out", "edge.toml"], "broker_admin.password_file"),
    (["hub", "revoke-home", "home-1"], "broker_admin.password_file"),
])
def test_a_missing_admin_password_names_the_file_and_key(
        tmp_path: Path, mosquitto: Mosquitto, args: list[str], key: str) -> None:
    hub_toml = _hub_toml(tmp_path, mosquitto, admin=False)
    args = [*args[:2], "--config", str(hub_toml), *args[2:]]
    if "--out" in args:
        args[args.index("--out") + 1] = str(tmp_path / "edge.toml")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert str(hub_toml) in result.output and key in result.output


def test_a_home_id_that_is_a_hub_user_is_refused(tmp_path: Path, mosquitto: Mosquitto) -> None:
    hub_toml = _hub_toml(tmp_path, mosquitto)
    assert runner.invoke(app, ["hub", "broker-init", "--config", str(hub_toml)]).exit_code == 0
    result = runner.invoke(app, ["hub", "enrol-home", "--config", str(hub_toml), "--out",
                                 str(tmp_path / "edge.toml"), "--home", "bedwatch-hub",
                                 "--site", "town"])
    assert result.exit_code == 2 and "is not home" in result.output
    with _registry(hub_toml) as session:  # refused before the registry was written
        assert session.get(Home, "bedwatch-hub") is None
    result = runner.invoke(app, ["hub", "revoke-home", "--config", str(hub_toml),
                                 "bedwatch-hub"])
    assert result.exit_code == 2 and "not a home" in result.output
    assert not (tmp_path / "edge.toml").exists()


def test_a_wrong_admin_password_is_a_clear_error(tmp_path: Path, mosquitto: Mosquitto) -> None:
    hub_toml = _hub_toml(tmp_path, mosquitto, admin=False)
    wrong = tmp_path / "wrong-admin-password"
    wrong.write_text("not the password\n")
    with hub_toml.open("a") as out:
        out.write(f'[broker_admin]\npassword_file = "{wrong}"\n')
    result = runner.invoke(app, ["hub", "revoke-home", "--config", str(hub_toml), "home-1"])
    assert result.exit_code == 2
    assert "broker command 'connect' failed" in result.output
    assert "Not authorized" in result.output and "'admin'" in result.output


def test_enrolling_a_home_the_registry_does_not_know_needs_its_site(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    hub_toml = _hub_toml(tmp_path, mosquitto)
    out = tmp_path / "edge.toml"
    result = runner.invoke(app, ["hub", "enrol-home", "--config", str(hub_toml), "--out",
                                 str(out)])
    assert result.exit_code == 2 and "give --site" in result.output
    result = runner.invoke(app, ["hub", "enrol-home", "--config", str(hub_toml), "--out",
                                 str(out), "--site", "village"])
    assert result.exit_code == 2 and "village" in result.output
    assert not out.exists()
    with _registry(hub_toml) as session:
        assert session.scalars(select(Home)).all() == []
