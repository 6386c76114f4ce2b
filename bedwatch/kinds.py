"""Every kind of event and alert bedwatch knows, described once.

One row per kind, in the shape of Home Assistant's entity descriptions: its default severity,
whether a person may be in danger now, how the hub turns it into an alert (and what resolves
that alert), whether it is a sign of life for the activity detector, and what people read.
The edge, the hub, the evaluation and the caregiver's page all read this table; adding a kind
is adding a row.

An agent may send a kind that is not here: it is accepted with the severity it carries and
opens no alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bedwatch.i18n import N_, translator


class Severity(StrEnum):
    """How urgently a person must look at an event."""

    CRITICAL = "critical"
    HIGH = "high"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """How an event kind becomes an alert at the hub."""

    severity: str
    page: bool = True
    group_by_device: bool = False
    resolved_by: frozenset[str] = frozenset()  # event kinds that auto-resolve it
    notify_doctor: bool = False
    notify_desk: bool = False  # also page the organisation's desk at once
    # Off unless a site or resident turns it on (e.g. bed exits for a resident at fall risk).
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class EventKind:
    """One kind of event: what it means, how urgent it is, what it becomes."""

    name: str
    severity: Severity
    en: str  # what people read: the msgid of its translations in the `bedwatch` catalogue
    life_safety: bool = False
    alert: AlertRule | None = None
    # A sign that the resident is up and about (the inactivity detector's evidence).
    activity: bool = True
    # A device speaking about itself: it does not prove the device is alive.
    self_report: bool = False
    # Raised by the hub about itself; paged to the technicians.
    hub: bool = False
    # Scored by the detector evaluation (`bedwatch eval`).
    evaluated: bool = False

    def text(self, language: str | None = "zh_CN") -> str:
        """Return what people read for this kind, in `language` (unknown: Chinese)."""
        return translator(language).gettext(self.en)


C, H, L, INFO = Severity.CRITICAL, Severity.HIGH, Severity.LOW, Severity.INFO
_BACK = frozenset({"device_recovered"})


def _life_safety(name: str, en: str) -> EventKind:
    # A person may be in danger now: critical, paged, never auto-resolved, never shed.
    return EventKind(name, C, en, life_safety=True, alert=AlertRule("critical"),
                     evaluated=True)


def _status(name: str, severity: Severity, en: str, **kw: object) -> EventKind:
    # About equipment or the system, not the resident: never a sign of life.
    return EventKind(name, severity, en, activity=False, **kw)  # type: ignore[arg-type]


_ROWS: tuple[EventKind, ...] = (
    # -- the resident may be in danger now ------------------------------------------------------
    _life_safety("call", N_("Call button pressed")),
    _life_safety("fall", N_("Fall detected")),
    _life_safety("long_lie", N_("Lying on the floor for a long time")),
    _life_safety("apnea", N_("Breathing stopped")),
    _life_safety("not_returned", N_("Got up in the night and did not return to bed")),
    # -- the resident, not urgent or not by default ---------------------------------------------
    EventKind("call_cancel", INFO, N_("Call cancelled at the button")),
    EventKind("bed_exit", L, N_("Out of bed"),
              alert=AlertRule("high", resolved_by=frozenset({"bed_return"}), enabled=False),
              evaluated=True),
    EventKind("bed_return", INFO, N_("Back in bed")),
    EventKind("not_up_by", H, N_("Not up yet this morning"),
              alert=AlertRule("high"), evaluated=True),
    EventKind("inactivity", H, N_("No activity for hours"),
              alert=AlertRule("high"), activity=False, evaluated=True),
    EventKind("bradycardia", H, N_("Heart rate low"), alert=AlertRule("high"),
              evaluated=True),
    EventKind("tachycardia", H, N_("Heart rate high"), alert=AlertRule("high"),
              evaluated=True),
    EventKind("bradypnea", H, N_("Breathing slow"), alert=AlertRule("high"),
              evaluated=True),
    EventKind("tachypnea", H, N_("Breathing fast"), alert=AlertRule("high"),
              evaluated=True),
    EventKind("bp_crisis", H, N_("Blood pressure in the crisis range"),
              alert=AlertRule("high", notify_doctor=True), activity=False, evaluated=True),
    EventKind("bp_high", L, N_("Blood pressure high"),
              alert=AlertRule("low", page=False), activity=False, evaluated=True),
    EventKind("news2_medium", H, N_("Early-warning score medium: urgent review"),
              alert=AlertRule("high", notify_doctor=True), activity=False, evaluated=True),
    EventKind("news2_high", C, N_("Early-warning score high: emergency review"),
              alert=AlertRule("critical", notify_doctor=True), activity=False, evaluated=True),
    EventKind("trend", L, N_("A vital sign is drifting from the resident's own baseline"),
              alert=AlertRule("low", page=False), activity=False, evaluated=True),
    EventKind("reposition_due", L, N_("Time to turn the resident"),
              alert=AlertRule("low", page=False), activity=False, evaluated=True),
    EventKind("mat_pressed", INFO, N_("Weight on the mat")),
    EventKind("mat_released", INFO, N_("Mat released")),
    EventKind("radar_fall", L, N_("The radar reports a fall")),
    EventKind("radar_stationary", L, N_("The radar reports a person still for long")),
    EventKind("radar_absence", INFO, N_("The radar sees nobody")),
    EventKind("test_alarm", INFO, N_("Test alarm"), activity=False),
    # -- the equipment in the home --------------------------------------------------------------
    _status("device_fault", L, N_("Device fault"),
            alert=AlertRule("low", page=False, group_by_device=True, resolved_by=_BACK),
            self_report=True),
    _status("device_recovered", INFO, N_("Device working again"), self_report=True),
    _status("device_silent", H, N_("A device has gone silent"),
            alert=AlertRule("high", group_by_device=True, resolved_by=_BACK), self_report=True),
    _status("low_battery", L, N_("Low battery"),
            alert=AlertRule("low", page=False, group_by_device=True)),
    _status("sensor_fault", L, N_("A sensor gives an implausible signal"),
            alert=AlertRule("low", page=False, group_by_device=True,
                            resolved_by=frozenset({"sensor_recovered"})), evaluated=True),
    _status("sensor_recovered", INFO, N_("Sensor signal plausible again")),
    _status("firmware_unknown", L, N_("A device runs firmware that was never checked")),
    _status("agent_degraded", C, N_("The home unit cannot store data: events held in memory")),
    _status("agent_recovered", INFO, N_("The home unit stores data again")),
    _status("agent_offline", H, N_("Home unit offline"),
            alert=AlertRule("high", resolved_by=frozenset({"agent_online"}), notify_desk=True)),
    _status("agent_online", INFO, N_("Home unit online")),
    _status("edge_clock_wrong", L, N_("The home unit's clock is wrong"),
            alert=AlertRule("low", page=False, resolved_by=frozenset({"edge_clock_ok"}))),
    _status("edge_clock_ok", INFO, N_("The home unit's clock is right again")),
    # -- the registry and the hub itself --------------------------------------------------------
    _status("unknown_home", H, N_("A home that is not registered is sending"),
            alert=AlertRule("high")),
    _status("broker_down", H, N_("The hub cannot reach the MQTT broker"),
            alert=AlertRule("high", group_by_device=True), hub=True),
    _status("influx_down", H, N_("The hub cannot write to InfluxDB"),
            alert=AlertRule("high", group_by_device=True), hub=True),
    _status("ingest_stalled", H, N_("The hub has received nothing while homes are online"),
            alert=AlertRule("high", group_by_device=True), hub=True),
    _status("pages_failing", H, N_("Pages fail on every channel of a person"),
            alert=AlertRule("high"), hub=True),
    _status("homes_offline_many", H, N_("Many home units went offline at once"),
            alert=AlertRule("high"), hub=True),
    _status("dead_letter", H, N_("A message could not be stored: see the dead-letter list"),
            alert=AlertRule("high", notify_desk=True), hub=True),
)

KINDS: dict[str, EventKind] = {row.name: row for row in _ROWS}
assert len(KINDS) == len(_ROWS), "a kind is described twice"

LIFE_SAFETY_KINDS = frozenset(k.name for k in _ROWS if k.life_safety)
DEFAULT_SEVERITY: dict[str, Severity] = {k.name: k.severity for k in _ROWS}
RULES: dict[str, AlertRule] = {k.name: k.alert for k in _ROWS if k.alert is not None}
NOT_ACTIVITY = frozenset(k.name for k in _ROWS if not k.activity)
SELF_REPORTS = frozenset(k.name for k in _ROWS if k.self_report)
HUB_KINDS = frozenset(k.name for k in _ROWS if k.hub)
EVALUATED_KINDS = tuple(k.name for k in _ROWS if k.evaluated)


def kind_text(kind: str, language: str | None = "zh_CN") -> str:
    """Return what people read for a kind; an unknown kind reads as its name."""
    row = KINDS.get(kind)
    return row.text(language) if row else kind.replace("_", " ")
