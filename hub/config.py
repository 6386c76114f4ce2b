"""The hub's config: a TOML file validated by pydantic; errors name the file and the key."""

from __future__ import annotations

import secrets
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bedwatch.configfile import ConfigError, key_path, load_toml_model, resolve, write_private
from hub.registry_file import REGISTRY_KEYS, RegistryDocument, RuleOverride

M = TypeVar("M", bound=BaseModel)

__all__ = ["ConfigError", "HubConfig", "ServiceSettings", "load_config", "load_registry"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttSection(_Model):
    """How the hub reaches the broker: one broker user per ingest lane, bound to its client id.

    The control lane is user `username` (default: `client_id`) with client id `client_id`; the
    readings lane is the same with `-readings` appended to both. `bedwatch hub broker-init`
    creates both users with one password (see docs/protocol.md, "Broker identity and TLS").
    """

    host: str = Field("127.0.0.1", description="Broker host (the name its certificate carries).")
    port: int = Field(1883, gt=0, lt=65536, description="Broker port (8883 with TLS).")
    client_id: str = Field("bedwatch-hub", min_length=1,
                           description="Fixed id: the broker keeps its session.")
    username: str | None = Field(
        None, min_length=1, description="Broker user of the control lane (default: client_id); "
                                        "the readings lane's is this plus '-readings'.")
    password: str | None = Field(None, description="The hub's password on the broker.")
    password_file: Path | None = Field(
        None, description="File holding the password instead (written by broker-init).")
    tls: bool = Field(False, description="Connect with TLS; the broker's certificate and host "
                                         "name are always verified.")
    ca_file: Path | None = Field(
        None, description="CA certificate that signed the broker's (the organisation's own CA); "
                          "unset: the system's trusted CAs.")

    max_unacked: int = Field(
        990, ge=1, le=65535,
        description="Reading batches the hub holds unacknowledged while InfluxDB has not yet "
                    "taken them; at this many it writes at once and reads no further. Keep it "
                    "below the broker's max_inflight_messages (1000), or the broker stops "
                    "sending before the hub writes (docs/protocol.md, \"The readings lane\").")

    ingest_workers: int = Field(
        1, ge=1, le=32,
        description="Processes that store readings, sharing them through the broker's shared "
                    "subscription; each has its own broker user and client id, `-readings-<n>` "
                    "from the second on (created by broker-init). Events stay in one process.")

    @model_validator(mode="after")
    def _one_password(self) -> MqttSection:
        if self.password is not None and self.password_file is not None:
            raise ValueError("password_file: give password or password_file, not both")
        if self.ca_file is not None and not self.tls:
            raise ValueError("ca_file: set tls = true to use it")
        return self

    def lane_user(self, suffix: str) -> str:
        """Return the broker user of the lane whose client id ends in `suffix`."""
        return (self.username or self.client_id) + suffix

    def read_password(self) -> str | None:
        """Return the password, read from password_file when given; raise ConfigError."""
        if self.password_file is None:
            return self.password
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"mqtt.password_file: cannot read {self.password_file}: "
                              f"{exc}") from exc


class BrokerAdminSection(_Model):
    """The broker's dynamic-security admin, for broker-init, enrol-home and revoke-home only.

    The running hub never uses it. Host, port and TLS are the [mqtt] section's unless given.
    """

    username: str = Field("admin", min_length=1, description="The plugin's admin user.")
    password_file: Path | None = Field(None, description="File holding the admin's password.")
    client_id: str = Field("bedwatch-admin", min_length=1,
                           description="Client id the admin user is bound to.")
    host: str | None = Field(None, description="Broker host for administration.")
    port: int | None = Field(None, gt=0, lt=65536, description="Broker port for administration.")
    tls: bool | None = Field(None, description="TLS for administration (default: mqtt.tls).")


class InfluxSection(_Model):
    url: str = Field("http://127.0.0.1:8086", description="InfluxDB base URL (v1 HTTP API).")
    database: str = Field("bedwatch", pattern=r"^[A-Za-z0-9_]+$", description="Database name.")
    username: str | None = Field(None, description="InfluxDB 1.x user.")
    password: str | None = Field(None, description="InfluxDB 1.x password.")
    token: str | None = Field(None, description="Token for InfluxDB 2.x/3.x v1-compat endpoints.")
    batch_size: int = Field(5000, ge=1, description="Points per write request.")
    flush_interval_s: float = Field(1.0, gt=0, description="Longest wait before a write.")
    writers: int = Field(4, ge=1, le=64, description="Batches written at once.")
    max_buffer_points: int = Field(
        1_000_000, ge=1000,
        description="Best-effort points (device status, event markers) held while InfluxDB is "
                    "unreachable; beyond it the oldest of those are shed (counted). Readings "
                    "are never shed by the hub: they wait at the broker (mqtt.max_unacked).",
    )


class DatabaseSection(_Model):
    url: str = Field("sqlite:///hub.sqlite",
                     description="SQLAlchemy URL; a relative SQLite path is relative to the file.")


class ApiSection(_Model):
    host: str = Field("127.0.0.1", description="Address the REST API listens on.")
    port: int = Field(8080, gt=0, lt=65536, description="Port of the REST API.")
    public_url: str = Field("http://127.0.0.1:8080",
                            description="How caregivers' phones reach the hub (ack links).")
    secret: str | None = Field(None, min_length=16, description="Key that signs ack links.")
    secret_file: Path | None = Field(None, description="File holding the signing key.")
    ack_link_ttl_s: float = Field(24 * 3600, gt=0, description="How long an ack link works.")
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate (chain) the API serves HTTPS with, issued by the "
                          "organisation's CA; with tls_key_file. Unset: plain HTTP.")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    token: str | None = Field(
        None, description="Gone: the REST API takes people's logins and API tokens "
                          "(docs/access.md); setting it is an error that says so.")

    @field_validator("token")
    @classmethod
    def _no_shared_token(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("the one shared API token is gone: remove it, issue a token per "
                             "integration with `bedwatch hub issue-token --role integration "
                             "--label ...`, and give people logins (docs/access.md)")
        return value

    @field_validator("tls_cert_file", "tls_key_file")
    @classmethod
    def _tls_file(cls, value: Path | None) -> Path | None:
        # A relative path is relative to the config file: load_config resolves and checks it.
        if value is not None and value.is_absolute() and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _tls(self) -> ApiSection:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both tls_cert_file and tls_key_file, or neither")
        if self.tls_cert_file is not None and not self.public_url.startswith("https://"):
            raise ValueError("public_url must be https://... when the API serves HTTPS "
                             "(tls_cert_file is set)")
        return self


class OrganisationSection(_Model):
    timezone: str = Field("Asia/Shanghai",
                          description="Local time zone of messages that belong to no site.")
    reminder_every_s: float = Field(
        60.0, gt=0, description="Re-page the desk or the technicians this often until somebody "
                                "acknowledges an alert that belongs to no site.")


class PagerSection(_Model):
    delivery_timeout_s: float = Field(
        20.0, gt=0, le=300,
        description="Longest wait for one channel to take a page; then the next is tried.")


class WatchdogSection(_Model):
    """When the hub itself cannot do its job, the technicians are paged."""

    broker_down_after_s: float = Field(
        60.0, gt=0, description="Broker unreachable this long: page the technicians.")
    influx_down_after_s: float = Field(
        300.0, gt=0, description="InfluxDB writes failing this long: page the technicians.")
    ingest_silent_after_s: float = Field(
        300.0, gt=0, description="No message received this long while homes are online: "
                                 "page the technicians.")
    page_failures_before_alert: int = Field(
        3, ge=1, description="Attempts of one page that failed on every channel of its person "
                             "before the technicians are paged.")
    homes_offline_count: int = Field(
        5, ge=2, description="This many homes going offline within the window is one outage: "
                             "one alert to the technicians instead of one page per home "
                             "to the desk.")
    homes_offline_percent: float = Field(
        20.0, gt=0, le=100, description="Or this share of all homes (at least two) going "
                                        "offline within the window.")
    homes_offline_window_s: float = Field(
        120.0, gt=0, description="Window in which homes going offline count as one outage.")


class HeartbeatSection(_Model):
    """A dead-man's switch outside the hub: it is pinged while the hub is healthy."""

    url: str | None = Field(
        None, description="Plain http(s) URL pinged with GET (healthchecks.io style), or an "
                          "apprise URL notified; none: no heartbeat.")
    every_s: float = Field(60.0, ge=5, description="Seconds between two pings.")
    timeout_s: float = Field(10.0, gt=0, le=60, description="Longest wait for one ping.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("expected an http(s) or apprise URL (scheme://...)")
        return value


class ServiceSettings(_Model):
    """How the hub service itself behaves: all the alert engine and the watchdog read here.

    The registry (sites, homes, people, the rota) is not among them: the engine reads it from
    the database rows, which the registry service (`hub.registry`) writes.
    """

    organisation: OrganisationSection = Field(default_factory=OrganisationSection)
    pager: PagerSection = Field(default_factory=PagerSection)
    watchdog: WatchdogSection = Field(default_factory=WatchdogSection)
    heartbeat: HeartbeatSection = Field(default_factory=HeartbeatSection)
    rules: dict[str, RuleOverride] = Field(default_factory=dict,
                                           description="Alert rules of the organisation by kind.")
    tick_s: float = Field(1.0, gt=0, le=60, description="How often timers are checked.")
    alert_lease_s: float = Field(
        10.0, gt=0, le=600,
        description="How long a hub owns an alert without renewing it; when several hubs share "
                    "one database, another takes the alert over this long after its owner "
                    "stopped (docs/scaling.md, \"Several hubs\"). Keep it several ticks long.")
    flap_hold_s: float = Field(
        120.0, ge=0, description="A recovered device alert stays open this long before it "
                                 "resolves, so a flapping device does not page again and again.")
    max_silence_s: float = Field(4 * 3600, gt=0, description="Longest silence of a home.")


class HubConfig(ServiceSettings):
    """The hub's config file: its connections and the service's own settings.

    The registry (sites, homes, residents, people, the rota) lives in the database, written
    through the registry API and CLI; `bedwatch hub import-registry` takes a file of
    `RegistryDocument` tables once.
    """

    mqtt: MqttSection = Field(default_factory=MqttSection)
    broker_admin: BrokerAdminSection = Field(default_factory=BrokerAdminSection)
    influx: InfluxSection = Field(default_factory=InfluxSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    api: ApiSection = Field(default_factory=ApiSection)


def _read_toml(path: Path) -> dict[str, object]:
    # Unreadable or invalid files are reported by load_toml_model, with the same wording.
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def load_registry(path: Path | str) -> RegistryDocument:
    """Read and validate a registry file; raise ConfigError naming the file and key.

    A hub.toml of an older version, holding both, can be given as it is: its service
    settings are left out here (they stay in hub.toml).
    """
    path = Path(path)
    raw = _read_toml(path)
    service = set(HubConfig.model_fields)
    if raw and service & raw.keys():
        return _validate(path, {k: v for k, v in raw.items() if k not in service},
                         RegistryDocument)
    return load_toml_model(path, RegistryDocument)


def load_config(path: Path | str, *, registry_ok: bool = False,
                make_secret: bool = True) -> HubConfig:
    """Read and validate a hub config; raise ConfigError naming the file and key.

    Without `api.secret`, the link-signing key is read from `api.secret_file` (default
    `hub-secret` beside the config) and, unless `make_secret` is False (a check that must
    write nothing), made there when missing.

    Registry tables (`[[homes]]`, ...) left in it are an error naming the first of them,
    unless `registry_ok` (the import command, which reads them from the same file).
    """
    path = Path(path)
    raw = _read_toml(path)
    moved = [key for key in REGISTRY_KEYS if key in raw]
    if moved and not registry_ok:
        raise ConfigError(
            f"{path}: {moved[0]}: the registry is no longer read from the hub's config; "
            f"import it into the database once with `bedwatch hub import-registry --config "
            f"{path} {path}`, then remove the tables {', '.join(moved)} from this file")
    if moved:
        kept = {k: v for k, v in raw.items() if k not in REGISTRY_KEYS}
        config = _validate(path, kept, HubConfig)
    else:
        config = load_toml_model(path, HubConfig)
    base = path.resolve().parent
    # Files named in the config are relative to it, wherever the hub is started from.
    if config.mqtt.password_file is not None:
        config.mqtt.password_file = resolve(base, config.mqtt.password_file)
    if config.mqtt.ca_file is not None:
        config.mqtt.ca_file = resolve(base, config.mqtt.ca_file)
    if config.broker_admin.password_file is not None:
        config.broker_admin.password_file = resolve(base, config.broker_admin.password_file)
    for key in ("tls_cert_file", "tls_key_file"):
        named: Path | None = getattr(config.api, key)
        if named is not None:
            setattr(config.api, key, resolve(base, named))
            if not getattr(config.api, key).is_file():
                raise ConfigError(f"{path}: api.{key}: no such file: {getattr(config.api, key)}")
    prefix = "sqlite:///"
    url = config.database.url
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        config.database.url = prefix + str(base / url[len(prefix):])
    if config.api.secret is None:
        # Without a configured key, keep a generated one beside the config so that links
        # already sent keep working after a restart.
        secret_path = resolve(base, config.api.secret_file or Path("hub-secret"))
        try:
            if not secret_path.exists():
                if not make_secret:
                    return config
                write_private(secret_path, secrets.token_hex(32))
            config.api.secret = secret_path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{path}: api.secret_file: cannot read {secret_path}: {exc}") from exc
    return config


def _validate(path: Path, raw: dict[str, object], model: type[M]) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{path}: {key_path(e['loc'])}: {e['msg']}"
                                     for e in exc.errors())) from exc
