"""The wire contract between the edge agent and the hub (protocol version 1).

Both programs import this module; `docs/protocol.md` describes the same contract for
people. Every payload is UTF-8 JSON with a version field `v`. Times are UTC seconds since
the Unix epoch as floats (`t`), stamped by the edge from its system clock; the agent's
status says whether that clock is synchronised.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

# Text and evidence are made safe to store by one module; its names are the contract's too.
from bedwatch.cleaning import (  # noqa: F401
    INT64_MAX,
    INT64_MIN,
    MAX_DATA_DEPTH,
    MAX_DATA_ITEMS,
    MAX_DATA_LIST,
    MAX_DATA_STRING,
    _no_surrogates,
    clean_data,
    clean_text,
)

# The event kinds, their severities and which are life-safety live in one table.
from bedwatch.kinds import DEFAULT_SEVERITY, LIFE_SAFETY_KINDS, Severity  # noqa: F401

PROTOCOL_VERSION = 1
TOPIC_ROOT = f"bw/v{PROTOCOL_VERSION}"
# Larger payloads are refused by the hub; the edge splits reading batches below it.
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_READINGS_PER_BATCH = 2000

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)

# Plausible wall-clock range: a Pi without RTC that never synchronised starts in 1970.
MIN_PLAUSIBLE_T = 1_577_836_800.0  # 2020-01-01T00:00:00Z
MAX_PLAUSIBLE_T = 4_102_444_800.0  # 2100-01-01T00:00:00Z



def is_life_safety(kind: str) -> bool:
    """Return True when an event of this kind means a person may be in danger now."""
    return kind in LIFE_SAFETY_KINDS


def plausible_time(t: float) -> bool:
    """Return True when a timestamp can come from a synchronised clock."""
    return MIN_PLAUSIBLE_T <= t <= MAX_PLAUSIBLE_T


class Channel(StrEnum):
    """The last part of a topic: what kind of message travels on it."""

    READINGS = "readings"
    EVENTS = "events"
    STATUS = "status"
    DEVICE_STATUS = "device_status"
    CMD = "cmd"
    CMD_ACK = "cmd_ack"
    RECEIPTS = "receipts"


def _check_id(value: str, what: str) -> str:
    if not ID_RE.match(value):
        raise ValueError(f"{what} {value!r} does not match {ID_PATTERN}")
    return value


def readings_topic(home: str) -> str:
    """Return the topic a home's reading batches are published on."""
    return f"{TOPIC_ROOT}/{_check_id(home, 'home id')}/readings"


def events_topic(home: str) -> str:
    """Return the topic a home's events are published on."""
    return f"{TOPIC_ROOT}/{_check_id(home, 'home id')}/events"


def status_topic(home: str) -> str:
    """Return the retained topic of the home agent's status and last will."""
    return f"{TOPIC_ROOT}/{_check_id(home, 'home id')}/status"


def device_status_topic(home: str, device: str) -> str:
    """Return the retained topic of one device's status."""
    home, device = _check_id(home, "home id"), _check_id(device, "device id")
    return f"{TOPIC_ROOT}/{home}/devices/{device}/status"


def cmd_topic(home: str) -> str:
    """Return the topic the hub sends commands to a home on."""
    return f"{TOPIC_ROOT}/{_check_id(home, 'home id')}/cmd"


def cmd_ack_topic(home: str) -> str:
    """Return the topic a home acknowledges commands on."""
    return f"{TOPIC_ROOT}/{_check_id(home, 'home id')}/cmd/ack"


def receipts_topic(home: str) -> str:
    """Return the topic the hub confirms stored events of a home on."""
    return f"{TOPIC_ROOT}/{_check_id(home, 'home id')}/receipts"


# Subscriptions of the hub (QoS 1).
HUB_SUBSCRIPTIONS = (
    f"{TOPIC_ROOT}/+/readings",
    f"{TOPIC_ROOT}/+/events",
    f"{TOPIC_ROOT}/+/status",
    f"{TOPIC_ROOT}/+/devices/+/status",
    f"{TOPIC_ROOT}/+/cmd/ack",
)


class WireError(ValueError):
    """A message that breaks the contract; `reason` says how, for logs and counters."""

    def __init__(self, reason: str, *, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def parse_topic(topic: str) -> tuple[str, Channel, str | None]:
    """Split a topic into (home, channel, device or None); raise WireError if unknown."""
    parts = topic.split("/")
    if len(parts) < 4 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise WireError(f"topic {topic!r} is not under {TOPIC_ROOT}/", code="topic")
    home = parts[2]
    if not ID_RE.match(home):
        raise WireError(f"home id {home!r} in topic does not match {ID_PATTERN}", code="topic")
    rest = parts[3:]
    if rest == ["readings"]:
        return home, Channel.READINGS, None
    if rest == ["events"]:
        return home, Channel.EVENTS, None
    if rest == ["status"]:
        return home, Channel.STATUS, None
    if rest == ["cmd"]:
        return home, Channel.CMD, None
    if rest == ["cmd", "ack"]:
        return home, Channel.CMD_ACK, None
    if rest == ["receipts"]:
        return home, Channel.RECEIPTS, None
    if len(rest) == 3 and rest[0] == "devices" and rest[2] == "status":
        if not ID_RE.match(rest[1]):
            raise WireError(f"device id {rest[1]!r} does not match {ID_PATTERN}", code="topic")
        return home, Channel.DEVICE_STATUS, rest[1]
    raise WireError(f"unknown topic {topic!r}", code="topic")


Id = Annotated[str, Field(pattern=ID_PATTERN)]
EventId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{8,80}$")]
Kind = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
Timestamp = Annotated[float, Field(ge=MIN_PLAUSIBLE_T, le=MAX_PLAUSIBLE_T)]
# Any finite time from the epoch on: a device with a wrong clock is flagged, not silenced.
AnyTime = Annotated[float, Field(ge=0.0, le=MAX_PLAUSIBLE_T)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Text = Annotated[str, AfterValidator(_no_surrogates)]
# Field values that InfluxDB can store; strings are short by contract.
FieldValue = bool | Int64 | float | Annotated[Text, Field(max_length=256)]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
Data = Annotated[dict[str, Any], AfterValidator(clean_data)]


class _Message(BaseModel):
    # No NaN or infinity anywhere: JSON has none, and `1e400` must not become one.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    v: Literal[1] = Field(1, description="Protocol version.")


class Reading(BaseModel):
    """One typed measurement from one device at one time."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    device: Id = Field(description="Device id, unique within the home.")
    kind: Kind = Field(description="What was measured, e.g. 'vitals', 'bed_load', 'bp'.")
    t: Timestamp = Field(description="UTC seconds since the epoch when it was measured.")
    fields: dict[FieldName, FieldValue] = Field(
        min_length=1, max_length=64, description="Measured values by name."
    )


class ReadingBatch(_Message):
    """Readings of one home, published together on `bw/v1/<home>/readings`."""

    agent: Id = Field(description="The publishing agent (the home id).")
    seq: Count = Field(description="Per-agent sequence number of this message.")
    readings: list[Reading] = Field(min_length=1, max_length=MAX_READINGS_PER_BATCH)


class Event(_Message):
    """Something that happened in a home, published on `bw/v1/<home>/events`."""

    id: EventId = Field(
        description="Unique id within the home; the hub ignores a second message with it."
    )
    seq: Count = Field(description="Per-agent sequence number of this message.")
    t: AnyTime = Field(description="UTC seconds since the epoch when it happened, by the "
                                   "edge's clock (see clock_untrusted).")
    clock_untrusted: bool = Field(
        False, description="The edge's clock was not synchronised or implausible when this "
                           "was stamped: the hub goes by its own receive time.")
    device: Id = Field(description="The device that reported it.")
    kind: Kind = Field(description="What happened, e.g. 'call', 'fall', 'bed_exit'.")
    severity: Severity
    data: Data = Field(default_factory=dict, description="Evidence and details.")

    def trusted_time(self) -> bool:
        """Return True when `t` can be used as the time it happened."""
        return not self.clock_untrusted and plausible_time(self.t)


class AgentStatus(_Message):
    """The agent's retained status; its offline form is the MQTT last will."""

    agent: Id
    state: Literal["online", "offline"]
    t: AnyTime | None = Field(None, description="When this status was made (absent in the will).")
    version: Annotated[Text, Field(max_length=64)] | None = None
    uptime_s: float | None = Field(None, ge=0, le=1e10)
    outbox_depth: Count | None = None
    clock_synced: bool | None = Field(None, description="Whether the system clock is synchronised.")
    devices: list[Id] = Field(default_factory=list, max_length=256)
    degraded: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]] = Field(
        default_factory=list, max_length=32,
        description="What the agent cannot do now (e.g. 'outbox_disk'); empty when healthy.")


class DeviceStatus(_Message):
    """One device's retained status."""

    device: Id
    t: AnyTime
    connected: bool
    battery_pct: float | None = Field(None, ge=0, le=100)
    last_seen: AnyTime | None = None
    errors: dict[FieldName, Count] = Field(default_factory=dict, max_length=32,
                                           description="Error counters by cause.")


class Command(_Message):
    """A command from the hub to an agent."""

    id: EventId
    t: Timestamp
    name: Literal["test_alarm", "reload_config", "ping"]
    args: Data = Field(default_factory=dict)


class CommandAck(_Message):
    """The agent's answer to a command."""

    id: EventId
    t: AnyTime
    ok: bool
    detail: Annotated[Text, Field(max_length=1024)] = ""


class Receipt(_Message):
    """The hub's word that it has stored events of a home; the agent may forget them."""

    ids: list[EventId] = Field(min_length=1, max_length=500)
    t: AnyTime


Message = ReadingBatch | Event | AgentStatus | DeviceStatus | Command | CommandAck | Receipt

_MODEL_FOR_CHANNEL: dict[Channel, type[BaseModel]] = {
    Channel.READINGS: ReadingBatch,
    Channel.EVENTS: Event,
    Channel.STATUS: AgentStatus,
    Channel.DEVICE_STATUS: DeviceStatus,
    Channel.CMD: Command,
    Channel.CMD_ACK: CommandAck,
    Channel.RECEIPTS: Receipt,
}


def new_event_id() -> str:
    """Return a fresh, globally unique event id."""
    return uuid.uuid4().hex


def encode(message: BaseModel) -> bytes:
    """Serialise a message to its compact JSON payload."""
    data = message.model_dump_json(exclude_none=True).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload of {len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}", code="size")
    return data


def decode(topic: str, payload: bytes) -> tuple[str, Channel, str | None, Message]:
    """Validate a received message; return (home, channel, device, message) or raise WireError.

    Nothing else ever escapes: whatever the bytes, the caller gets a message or a WireError
    with a reason code (`topic`, `size`, `json`, `version`, `schema`, `internal`).
    """
    try:
        return _decode(topic, payload)
    except WireError:
        raise
    except Exception as exc:  # RecursionError, MemoryError in a parser, a validator bug...
        raise WireError(f"undecodable payload: {type(exc).__name__}: {str(exc)[:200]}",
                        code="internal") from exc


def _decode(topic: str, payload: bytes) -> tuple[str, Channel, str | None, Message]:
    home, channel, device = parse_topic(topic)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}", code="size")
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers longer than Python converts.
        raise WireError(f"payload is not UTF-8 JSON: {type(exc).__name__}: {str(exc)[:200]}",
                        code="json") from exc
    if not isinstance(raw, dict):
        raise WireError("payload is not a JSON object", code="json")
    if raw.get("v") != PROTOCOL_VERSION:
        raise WireError(
            f"protocol version {str(raw.get('v'))[:20]!r} is not supported "
            f"(expected {PROTOCOL_VERSION})", code="version",
        )
    model = _MODEL_FOR_CHANNEL[channel]
    try:
        message = model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])[:200] or "payload"
        raise WireError(
            f"{where}: {first['msg'][:200]} ({exc.error_count()} error(s))", code="schema"
        ) from exc
    if isinstance(message, ReadingBatch) and message.agent != home:
        raise WireError(f"agent {message.agent!r} does not match topic home {home!r}",
                        code="schema")
    if isinstance(message, AgentStatus) and message.agent != home:
        raise WireError(f"agent {message.agent!r} does not match topic home {home!r}",
                        code="schema")
    if isinstance(message, DeviceStatus) and message.device != device:
        raise WireError("device in payload does not match topic", code="schema")
    return home, channel, device, message  # type: ignore[return-value]


# --- reading batches without a model per reading ------------------------------------------------
#
# The hub receives reading batches by the hundred thousand: building a pydantic model for each
# reading costs more than storing it. `decode_batch` checks the common shape of a batch in plain
# Python and hands back rows; anything it is not sure of goes through `decode` and its models,
# so what is accepted, and why something is rejected, is exactly theirs
# (tests/test_wire_fast.py proves it on valid and hostile input).

FieldValueT = bool | int | float | str


@dataclass(frozen=True, slots=True)
class BatchRows:
    """A reading batch that `ReadingBatch` accepts, as rows: each reading a dict with `device`,
    `kind`, `t` (float) and `fields` (name -> bool, int or float, or str), as the model has it."""

    agent: str
    seq: int
    readings: list[dict[str, Any]]

    @classmethod
    def of(cls, batch: ReadingBatch) -> BatchRows:
        """Return the rows of a batch the model validated."""
        return cls(batch.agent, batch.seq, [
            {"device": r.device, "kind": r.kind, "t": r.t, "fields": dict(r.fields)}
            for r in batch.readings])


# Full matches: `$` in ID_PATTERN also matches before a final newline, pydantic's does not.
_ID_FULL = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_NAME_FULL = re.compile(r"[a-z][a-z0-9_]{0,47}")
_BATCH_KEYS = frozenset({"v", "agent", "seq", "readings"})
_READING_KEYS = frozenset({"device", "kind", "t", "fields"})
# Names seen valid, so that each is matched once; bounded against a stream of new names.
_KNOWN_LIMIT = 100_000
_known_ids: set[str] = set()
_known_names: set[str] = set()
_readings_homes: dict[str, str] = {}  # readings topic -> its home


def _known(value: object, known: set[str], pattern: re.Pattern[str]) -> bool:
    if type(value) is not str:
        return False
    if value in known:
        return True
    if pattern.fullmatch(value) is None:
        return False
    if len(known) >= _KNOWN_LIMIT:
        known.clear()
    known.add(value)
    return True


def _fast_rows(home: str, payload: bytes) -> BatchRows | None:
    """Return the batch's rows when it has the plain shape of a valid batch, else None (unsure:
    the model decides). Never accepts what `ReadingBatch` would refuse."""
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None  # json.loads may still read it (NaN, a BOM...): the model's path says
    if type(raw) is not dict or raw.keys() != _BATCH_KEYS:
        return None
    v, seq, readings = raw["v"], raw["seq"], raw["readings"]
    if type(v) is not int or v != PROTOCOL_VERSION or raw["agent"] != home:
        return None
    if type(seq) is not int or not 0 <= seq <= INT64_MAX:
        return None
    if type(readings) is not list or not 1 <= len(readings) <= MAX_READINGS_PER_BATCH:
        return None
    ids, names = _known_ids, _known_names
    if not _known(home, ids, _ID_FULL):
        return None
    for reading in readings:
        if type(reading) is not dict or reading.keys() != _READING_KEYS:
            return None
        if not _known(reading["device"], ids, _ID_FULL) or \
                not _known(reading["kind"], names, _NAME_FULL):
            return None
        t = reading["t"]
        if type(t) is not float:
            if type(t) is not int:
                return None
            reading["t"] = t = float(t)
        if not MIN_PLAUSIBLE_T <= t <= MAX_PLAUSIBLE_T:
            return None
        fields = reading["fields"]
        if type(fields) is not dict or not 1 <= len(fields) <= 64:
            return None
        for name, value in fields.items():
            if name not in names and not _known(name, names, _NAME_FULL):
                return None
            kind = type(value)
            # orjson gives finite floats only; strings (rare in readings) go to the model.
            if kind is float or kind is bool:
                continue
            if kind is not int or not INT64_MIN <= value <= INT64_MAX:
                return None
    return BatchRows(home, seq, readings)


def decode_batch(topic: str, payload: bytes) -> tuple[str, BatchRows]:
    """Validate a reading batch; return (home, rows) or raise WireError as `decode` would.

    A message on any other channel is refused with code `topic`.
    """
    home = _readings_homes.get(topic)
    if home is not None:
        channel = Channel.READINGS
    else:
        try:
            home, channel, _ = parse_topic(topic)
        except WireError:
            raise
        except Exception as exc:  # as in decode: nothing else escapes
            raise WireError(f"undecodable topic: {type(exc).__name__}",
                            code="internal") from exc
        if channel is Channel.READINGS:
            if len(_readings_homes) >= _KNOWN_LIMIT:
                _readings_homes.clear()
            _readings_homes[topic] = home
    if channel is Channel.READINGS and len(payload) <= MAX_PAYLOAD_BYTES:
        try:
            rows = _fast_rows(home, payload)
        except RecursionError:
            rows = None
        if rows is not None:
            return home, rows
    home, channel, _, message = decode(topic, payload)
    if not isinstance(message, ReadingBatch):
        raise WireError(f"{channel.value} is not a reading batch", code="topic")
    return home, BatchRows.of(message)
