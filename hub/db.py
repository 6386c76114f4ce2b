"""The hub's SQL state (SQLAlchemy 2): registry, events, alerts, pages, deliveries and audit.

SQLite by default; the same models run on PostgreSQL. The registry rows (organisations, sites,
homes, residents, devices, people, the rota) are all the alert engine knows of sites, homes and
people: the registry service (`hub.registry`, its API and CLI) writes them, and the engine
reads them at every event, so a change counts at once. The schema is made and changed by the
Alembic migrations of `hub.migrations` only: `make_engine` upgrades a database to the head.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON, list[str]: JSON, list[dict[str, Any]]: JSON}


class Organisation(Base):
    """A care organisation: the operator of sites (stations)."""

    __tablename__ = "organisations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai",
                                          server_default="Asia/Shanghai")
    # The language of its people's pages (`bedwatch.i18n`: zh_CN or en) unless they set one.
    language: Mapped[str] = mapped_column(String(16), default="zh_CN", server_default="zh_CN")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"),
                                                        nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    ack_target_s: Mapped[float] = mapped_column(Float)
    arrival_target_s: Mapped[float] = mapped_column(Float)
    # The chain: [{"role": "oncall", "after_s": 0}, ...], first step at 0, in time order.
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(default=list, server_default="[]")
    reminder_every_s: Mapped[float] = mapped_column(Float, default=60.0, server_default="60")
    # Alert rule overrides by kind: {"bed_exit": {"page": true}}; keys of an AlertRule.
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # A site that left the registry keeps its row for the history; its homes page the desk.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Home(Base):
    __tablename__ = "homes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    address: Mapped[str] = mapped_column(String(400), default="")
    # What pages show as "who": the active residents' names, kept by the registry service.
    resident_name: Mapped[str] = mapped_column(String(200))
    doctor_notify: Mapped[list[str]] = mapped_column(default=list)
    # The resident's own alert rule overrides by kind, over the site's.
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # A home that left the registry is still known (no `unknown_home`), without its rules.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # How a caregiver gets in: where the key is, the door code, the dog.
    door_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    key_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)


class Resident(Base):
    """An elder cared for in a home; personal data, kept in the SQL store only."""

    __tablename__ = "residents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # opaque: r-<8 hex>
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str] = mapped_column(String(16), default="", server_default="")
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # Of "disabled", "dementia", "living_alone", "empty_nest", "low_income".
    care_categories: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    conditions: Mapped[str] = mapped_column(Text, default="", server_default="")
    allergies: Mapped[str] = mapped_column(Text, default="", server_default="")
    medical_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    # What the resident agreed to have monitored and shared: {"bed_sensor": true, ...}.
    consent: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    consent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Device(Base):
    """A device of a home, by the id it has on the wire (`bw/v1/<home>/devices/<id>`)."""

    __tablename__ = "devices"
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32), default="", server_default="")
    label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Caregiver(Base):
    __tablename__ = "caregivers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    role: Mapped[str] = mapped_column(String(16))
    notify: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Family contacts and doctors belong to one home; staff to none.
    home_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # The language of this person's pages; None: their organisation's (else zh_CN).
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)


class RotaShift(Base):
    """A weekly shift: a caregiver has a role on these days between two local times."""

    __tablename__ = "rota_shifts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    caregiver_id: Mapped[str] = mapped_column(ForeignKey("caregivers.id"))
    role: Mapped[str] = mapped_column(String(16))
    days: Mapped[list[str]] = mapped_column()  # "mon" … "sun": the days the shift starts on
    start: Mapped[str] = mapped_column(String(5))  # local HH:MM
    end: Mapped[str] = mapped_column(String(5))  # local HH:MM; before start: the next day


class RotaOverride(Base):
    """A one-off change to the rota: a caregiver has a role from one instant to another."""

    __tablename__ = "rota_overrides"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    caregiver_id: Mapped[str] = mapped_column(ForeignKey("caregivers.id"))
    role: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[float] = mapped_column(Float)  # UTC seconds
    end_at: Mapped[float] = mapped_column(Float)


class EventRecord(Base):
    """Every distinct event received; the key is (home, the edge's event id) for dedup."""

    __tablename__ = "events"
    home: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    device: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    t: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[float] = mapped_column(Float)
    received_order: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # The edge's clock was not trusted: `t` is kept as sent, paging went by `received_at`.
    clock_untrusted: Mapped[bool] = mapped_column(Boolean, default=False)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), nullable=True)


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    home: Mapped[str] = mapped_column(String(64), index=True)
    device: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    opened_at: Mapped[float] = mapped_column(Float)
    first_event_t: Mapped[float] = mapped_column(Float)
    last_event_at: Mapped[float] = mapped_column(Float)
    event_count: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    on_site_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    on_site_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Timers live in the row so that a restarted hub carries on where it was.
    paging: Mapped[bool] = mapped_column(Boolean, default=False)
    level: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    next_reminder_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ack_due_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    arrival_due_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ack_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    arrival_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    recovered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The hub running this alert's timers and pages while its lease lasts (hub.alerts.ownership).
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("alerts_group", "home", "kind", "device", "state"),)

    def as_dict(self) -> dict[str, Any]:
        return {c.name: getattr(self, c.name) for c in self.__table__.columns}


class Page(Base):
    """One caregiver to be paged for one alert: pending until delivered, then sent."""

    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    caregiver_id: Mapped[str] = mapped_column(ForeignKey("caregivers.id"))
    level: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(16), default="alert")
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The hub delivering it and until when nobody else may (hub.alerts.ownership).
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class Delivery(Base):
    """Every attempt to deliver a page on one channel."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    alert_id: Mapped[int] = mapped_column(Integer, index=True)
    caregiver_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(400))
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[float] = mapped_column(Float)


class Silence(Base):
    """A caregiver on site silenced a home's paging for a stated time."""

    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    home: Mapped[str] = mapped_column(String(64), index=True)
    by: Mapped[str] = mapped_column(String(64))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")


class AgentState(Base):
    __tablename__ = "agent_status"
    home: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outbox_depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clock_synced: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    t: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class FleetAgent(Base):
    """The fleet's view of one home's agent, as `hub.fleet` keeps it for the desk: what the
    retained status last said, since when that state holds, and when the hub last heard it."""

    __tablename__ = "fleet_agents"
    home: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    since: Mapped[float] = mapped_column(Float)  # hub time the state began
    last_seen: Mapped[float | None] = mapped_column(Float, nullable=True)  # hub time
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outbox_depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clock_synced: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    clock_skew_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    uptime_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    degraded: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    updated_at: Mapped[float] = mapped_column(Float)


class FleetDevice(Base):
    """The fleet's view of one device of a home (`hub.fleet`): last report, battery, fault,
    and whether its agent called it silent."""

    __tablename__ = "fleet_devices"
    home: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    connected: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_report_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # hub time
    last_seen_edge: Mapped[float | None] = mapped_column(Float, nullable=True)  # edge clock
    battery_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    battery_low: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    fault_kind: Mapped[str | None] = mapped_column(String(48), nullable=True)
    fault: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fault_since: Mapped[float | None] = mapped_column(Float, nullable=True)
    silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    silent_since: Mapped[float | None] = mapped_column(Float, nullable=True)
    supervision_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    errors: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    updated_at: Mapped[float] = mapped_column(Float)


class DeadLetter(Base):
    """A message that was received but could not be stored after every retry.

    It is acknowledged to the broker (so it cannot stall ingest), kept here whole, listed in
    the API and counted; the desk is told once.
    """

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    topic: Mapped[str] = mapped_column(String(512))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    home: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class AuditEntry(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    home: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


def make_engine(url: str) -> Engine:
    """Create the engine and upgrade its database to this version's schema.

    A fresh database gets every migration; one made by the release before migrations is
    stamped with the baseline first; one newer than this code is refused (MigrationError).
    SQLite gets WAL, full sync and a busy timeout.
    """
    engine = _engine(url, durable=True)
    from hub.migrations import upgrade

    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _engine(url: str, *, durable: bool) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL: a commit is not synced to disk by itself (the next FULL commit
            # or checkpoint syncs it); a power cut may lose it, never corrupt the database.
            cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


def views_engine(engine: Engine) -> Engine:
    """Return the engine for rows that are a view for people, rebuilt from what the homes keep
    sending (fleet health): with SQLite, connections whose commits are not synced to disk one
    by one, so that a fleet's thousands of rows cost no fsync each while calls wait for the
    one write lock; any other database, the same engine. The schema is `make_engine`'s."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine  # an in-memory database is one connection's: it cannot be shared
    return _engine(engine.url.render_as_string(hide_password=False), durable=False)


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)
