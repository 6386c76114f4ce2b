"""Enrol and revoke homes on the broker, and create the hub's own broker identity.

What `bedwatch hub broker-init`, `enrol-home` and `revoke-home` do; the CLI only parses
arguments and prints. All three act as the broker's dynamic-security admin
(`[broker_admin]` in hub.toml); the running hub never holds that password.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from bedwatch.configfile import ConfigError, resolve, write_private
from hub.broker import (
    BrokerAdmin,
    BrokerCredentials,
    HomeCredentials,
    check_home,
    check_home_user,
    enrol_home,
    ensure_hub_identity,
    new_password,
    revoke_home,
)
from hub.config import HubConfig, load_config

# Called with the new home id to create its registry row; None: the caller does it.
Register = Callable[[str], None]


def new_home_id() -> str:
    """Return an opaque random home id such as `h-3f9a0c1d` (it says nothing of the person)."""
    return f"h-{secrets.token_hex(4)}"


def write_secret(path: Path, secret: str) -> None:
    """Write a password file: `secret` and a newline, readable by its owner only (0600)."""
    write_private(path, secret + "\n")


def admin_session(config: HubConfig, config_path: Path) -> BrokerAdmin:
    """Return a session as the broker's admin, from hub.toml's [broker_admin] and [mqtt]."""
    section = config.broker_admin
    if section.password_file is None:
        raise ConfigError(f"{config_path}: broker_admin.password_file: not set; it names the "
                          "file holding the dynamic-security admin's password")
    password_path = resolve(config_path.resolve().parent, section.password_file)
    try:
        password = password_path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{config_path}: broker_admin.password_file: cannot read "
                          f"{password_path}: {exc}") from exc
    tls = config.mqtt.tls if section.tls is None else section.tls
    ca_file = config.mqtt.ca_file
    if ca_file is not None:
        ca_file = resolve(config_path.resolve().parent, ca_file)
    return BrokerAdmin(section.host or config.mqtt.host, section.port or config.mqtt.port,
                       section.username, password, client_id=section.client_id,
                       tls=tls, ca_file=ca_file if tls else None)


def broker_init(config_path: Path | str) -> list[BrokerCredentials]:
    """Create (or update) the hub's broker users; write its password file if it has none.

    An existing password file is kept, so a running hub is not locked out by a second run.
    Return the credentials of each lane.
    """
    config_path = Path(config_path)
    config = load_config(config_path)
    mqtt = config.mqtt
    if mqtt.password_file is None and mqtt.password is None:
        raise ConfigError(f"{config_path}: mqtt.password_file: not set; name the file that "
                          "broker-init writes the hub's broker password to")
    password_path = None if mqtt.password_file is None else \
        resolve(config_path.resolve().parent, mqtt.password_file)
    password = mqtt.password
    if password_path is not None and password_path.exists():
        password = password_path.read_text(encoding="utf-8").strip() or None
    if password is None:
        password = new_password()
    with admin_session(config, config_path) as admin:
        lanes = ensure_hub_identity(admin, mqtt.client_id, password, username=mqtt.username,
                                    workers=mqtt.ingest_workers)
    if password_path is not None:
        write_secret(password_path, password)
    return lanes


def edge_mqtt_section(credentials: HomeCredentials, *, host: str, port: int,
                      password_file: str, ca_file: str | None, tls: bool) -> dict[str, Any]:
    """Return the [mqtt] table of a home's edge config."""
    section: dict[str, Any] = {"host": host, "port": port, "username": credentials.username,
                               "client_id": credentials.client_id,
                               "password_file": password_file, "tls": tls}
    if ca_file is not None:
        section["ca_file"] = ca_file
    return section


def enrol(config_path: Path | str, out: Path | str, *, home: str | None = None,
          broker_host: str | None = None, broker_port: int | None = None,
          ca_file: str | None = None, tls: bool | None = None, force: bool = False,
          register: Register | None = None) -> HomeCredentials:
    """Enrol a home: registry row, broker user and role, and the Pi's edge config at `out`.

    The password goes to `<out>.mqtt-password` beside the config (mode 0600). Broker host,
    port and TLS default to hub.toml's [mqtt]; `ca_file` is the CA's path *on the Pi*.
    Enrolling a home again gives it a new password. Refuse to overwrite `out` unless `force`.
    """
    config_path, out = Path(config_path), Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; give another --out or --force to replace it")
    config = load_config(config_path)
    home = check_home(home) if home is not None else new_home_id()
    with admin_session(config, config_path) as admin:
        check_home_user(admin, home)
        if register is not None:
            # The registry row before the broker user (once the broker has taken the admin's
            # login): a home in the registry without credentials is harmless, and enrolling
            # it again completes it.
            register(home)
        credentials = enrol_home(admin, home)
    use_tls = (config.mqtt.tls if tls is None else tls) or ca_file is not None
    password_path = out.with_name(out.name + ".mqtt-password")
    write_secret(password_path, credentials.password)
    doc = {"home": home, "mqtt": edge_mqtt_section(
        credentials, host=broker_host or config.mqtt.host, port=broker_port or config.mqtt.port,
        password_file=password_path.name, ca_file=ca_file, tls=use_tls)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Written by `bedwatch hub enrol-home`: the home's identity on the hub's "
                   "broker.\n# Add the home's [[devices]]; keep the password file beside "
                   "this one.\n" + tomli_w.dumps(doc), encoding="utf-8")
    return credentials


def revoke(config_path: Path | str, home: str) -> bool:
    """Revoke a home's broker identity: it cannot connect, its connection is cut at once.

    Return False when the home had no broker user.
    """
    config_path = Path(config_path)
    config = load_config(config_path)
    with admin_session(config, config_path) as admin:
        return revoke_home(admin, check_home(home))
