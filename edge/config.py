"""The edge agent's config: a TOML file validated by pydantic; errors name the file and key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bedwatch.configfile import ConfigError, load_toml_model, resolve
from bedwatch.wire import ID_PATTERN
from edge.detectors import wiring
from edge.drivers import DRIVERS
from edge.drivers.base import DeviceConfigBase


class MqttConfig(BaseModel):
    """How the agent reaches the hub's broker: as the home's own user, with its bound client id.

    `bedwatch hub enrol-home` writes this section and the password file beside it.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Broker host name (the name in its certificate).")
    port: int = Field(1883, gt=0, lt=65536, description="Broker port (8883 with TLS).")
    username: str | None = Field(None, description="Per-home user name (default: the home id).")
    password: str | None = Field(None, description="Per-home password.")
    password_file: Path | None = Field(None, description="File holding the password instead.")
    client_id: str | None = Field(
        None, min_length=1, description="Client id the home's user is bound to on the broker "
                                        "(default: the home id).")
    tls: bool = Field(False, description="Connect with TLS; the broker's certificate and host "
                                         "name are always verified.")
    ca_file: Path | None = Field(
        None, description="CA certificate that signed the broker's (unset: the system's CAs).")
    keepalive: int = Field(30, ge=5, le=600, description="MQTT keepalive in seconds.")
    max_inflight: int = Field(20, ge=1, le=1000, description="Unacknowledged messages in flight.")

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("password_file: give password or password_file, not both")
        if self.ca_file is not None and not self.tls:
            raise ValueError("ca_file: set tls = true to use it")
        return self


class OutboxConfig(BaseModel):
    """Where messages wait until the broker (readings, status) or the hub (events) has them."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(Path("outbox.sqlite"), description="SQLite file of the durable outbox.")
    max_reading_messages: int = Field(
        100_000, ge=100,
        description="Reading batches kept while offline; beyond it the oldest are shed. "
                    "Events are never shed.",
    )
    max_memory_readings: int = Field(
        200, ge=0,
        description="Reading batches held in memory while the disk refuses writes; beyond "
                    "it the oldest are shed. Events held in memory are never shed.",
    )
    readings_resend_window_s: float = Field(
        120.0, ge=0, le=86_400,
        description="Reading batches stay this long after the broker's PUBACK and are sent "
                    "again on every reconnect, for a broker killed before it saved them. Keep "
                    "it well above the broker's autosave_interval (30 s); 0 turns it off.",
    )
    readings_resend_max_messages: int = Field(
        10_000, ge=0,
        description="Most reading batches held for re-sending; beyond it the oldest go.",
    )
    readings_resend_max_bytes: int = Field(
        16 * 2**20, ge=0,
        description="Most bytes of reading batches held for re-sending; beyond it the "
                    "oldest go.",
    )
    receipt_timeout_s: float = Field(
        10.0, gt=0, le=3600,
        description="An event published without the hub's receipt within this time is sent "
                    "again (same id); the wait doubles on each try.",
    )
    receipt_timeout_max_s: float = Field(
        300.0, gt=0, le=86_400,
        description="The longest wait between two sends of an event without a receipt.",
    )


def _device_union() -> Any:
    models = tuple(model for model, _ in DRIVERS.values())
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007


if TYPE_CHECKING:
    DeviceConfig = DeviceConfigBase
else:
    DeviceConfig = _device_union()


class AgentConfig(BaseModel):
    """The whole agent config."""

    model_config = ConfigDict(extra="forbid")

    home: str = Field(pattern=ID_PATTERN, description="Home id; also the MQTT user name.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    status_interval_s: float = Field(30.0, gt=0, description="How often to publish status.")
    batch_interval_s: float = Field(1.0, gt=0, description="How often readings are batched.")
    restart_min_s: float = Field(
        1.0, gt=0, description="First wait before a crashed driver is started again.")
    restart_max_s: float = Field(
        60.0, gt=0, description="Longest wait between restarts of a driver that keeps crashing.")
    devices: list[DeviceConfig] = Field(
        default_factory=list, description="The devices of this home."
    )
    detectors: wiring.DetectorsConfig = Field(default_factory=wiring.DetectorsConfig,
                                       description="The resident's detector settings.")

    @model_validator(mode="after")
    def _unique_device_ids(self) -> AgentConfig:
        ids = [d.id for d in self.devices]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"device ids must be unique; repeated: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _detector_devices_exist(self) -> AgentConfig:
        wiring.check(self.detectors, self.devices)
        return self


def load_config(path: Path | str) -> AgentConfig:
    """Read and validate an agent config; raise ConfigError naming the file and key."""
    path = Path(path)
    config = load_toml_model(path, AgentConfig, skip_keys=DRIVERS)
    base = path.resolve().parent
    config.outbox.path = resolve(base, config.outbox.path)
    if config.mqtt.password_file is not None:
        secret = resolve(base, config.mqtt.password_file)
        try:
            config.mqtt.password = secret.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{path}: mqtt.password_file: cannot read {secret}: {exc}") from exc
    return config
