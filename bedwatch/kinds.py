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
    en: str
    zh: str
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

    def text(self, language: str = "zh") -> str:
        """Return what people read for this kind, in `language` ('zh' or 'en')."""
        return self.zh if language.startswith("zh") else self.en


C, H, L, INFO = Severity.CRITICAL, Severity.HIGH, Severity.LOW, Severity.INFO
_BACK = frozenset({"device_recovered"})


def _life_safety(name: str, en: str, zh: str) -> EventKind:
    # A person may be in danger now: critical, paged, never auto-resolved, never shed.
    return EventKind(name, C, en, zh, life_safety=True, alert=AlertRule("critical"),
                     evaluated=True)


def _status(name: str, severity: Severity, en: str, zh: str, **kw: object) -> EventKind:
    # About equipment or the system, not the resident: never a sign of life.
    return EventKind(name, severity, en, zh, activity=False, **kw)  # type: ignore[arg-type]


_ROWS: tuple[EventKind, ...] = (
    # -- the resident may be in danger now ------------------------------------------------------
    _life_safety("call", "Call button pressed", "呼叫按钮被按下"),
    _life_safety("fall", "Fall detected", "检测到跌倒"),
    _life_safety("long_lie", "Lying on the floor for a long time", "长时间倒地未起"),
    _life_safety("apnea", "Breathing stopped", "呼吸暂停"),
    _life_safety("not_returned", "Got up in the night and did not return to bed",
                 "夜间离床未归"),
    # -- the resident, not urgent or not by default ---------------------------------------------
    EventKind("call_cancel", INFO, "Call cancelled at the button", "呼叫已在按钮上取消"),
    EventKind("bed_exit", L, "Out of bed", "离床",
              alert=AlertRule("high", resolved_by=frozenset({"bed_return"}), enabled=False),
              evaluated=True),
    EventKind("bed_return", INFO, "Back in bed", "回到床上"),
    EventKind("not_up_by", H, "Not up yet this morning", "早晨未按时起床",
              alert=AlertRule("high"), evaluated=True),
    EventKind("inactivity", H, "No activity for hours", "长时间无活动",
              alert=AlertRule("high"), activity=False, evaluated=True),
    EventKind("bradycardia", H, "Heart rate low", "心率过低", alert=AlertRule("high"),
              evaluated=True),
    EventKind("tachycardia", H, "Heart rate high", "心率过高", alert=AlertRule("high"),
              evaluated=True),
    EventKind("bradypnea", H, "Breathing slow", "呼吸过慢", alert=AlertRule("high"),
              evaluated=True),
    EventKind("tachypnea", H, "Breathing fast", "呼吸过快", alert=AlertRule("high"),
              evaluated=True),
    EventKind("bp_crisis", H, "Blood pressure in the crisis range", "血压达到危象范围",
              alert=AlertRule("high", notify_doctor=True), activity=False),
    EventKind("bp_high", L, "Blood pressure high", "血压偏高",
              alert=AlertRule("low", page=False), activity=False),
    EventKind("news2_medium", H, "Early-warning score medium: urgent review",
              "早期预警评分中等：需紧急评估", alert=AlertRule("high", notify_doctor=True),
              activity=False),
    EventKind("news2_high", C, "Early-warning score high: emergency review",
              "早期预警评分高：需立即急救评估", alert=AlertRule("critical", notify_doctor=True),
              activity=False),
    EventKind("trend", L, "A vital sign is drifting from the resident's own baseline",
              "体征偏离本人基线", alert=AlertRule("low", page=False), activity=False,
              evaluated=True),
    EventKind("reposition_due", L, "Time to turn the resident", "需要协助翻身",
              alert=AlertRule("low", page=False), activity=False),
    EventKind("mat_pressed", INFO, "Weight on the mat", "垫子受压"),
    EventKind("mat_released", INFO, "Mat released", "垫子释放"),
    EventKind("radar_fall", L, "The radar reports a fall", "雷达报告跌倒"),
    EventKind("radar_stationary", L, "The radar reports a person still for long",
              "雷达报告长时间静止"),
    EventKind("radar_absence", INFO, "The radar sees nobody", "雷达未检测到人"),
    EventKind("test_alarm", INFO, "Test alarm", "测试报警", activity=False),
    # -- the equipment in the home --------------------------------------------------------------
    _status("device_fault", L, "Device fault", "设备故障",
            alert=AlertRule("low", page=False, group_by_device=True, resolved_by=_BACK),
            self_report=True),
    _status("device_recovered", INFO, "Device working again", "设备已恢复", self_report=True),
    _status("device_silent", H, "A device has gone silent", "设备失联",
            alert=AlertRule("high", group_by_device=True, resolved_by=_BACK), self_report=True),
    _status("low_battery", L, "Low battery", "电量低",
            alert=AlertRule("low", page=False, group_by_device=True)),
    _status("sensor_fault", L, "A sensor gives an implausible signal", "传感器信号异常",
            alert=AlertRule("low", page=False, group_by_device=True,
                            resolved_by=frozenset({"sensor_recovered"})), evaluated=True),
    _status("sensor_recovered", INFO, "Sensor signal plausible again", "传感器信号已恢复"),
    _status("firmware_unknown", L, "A device runs firmware that was never checked",
            "设备固件版本未经验证"),
    _status("agent_degraded", C, "The home unit cannot store data: events held in memory",
            "家庭网关无法写入存储：事件暂存内存"),
    _status("agent_recovered", INFO, "The home unit stores data again", "家庭网关存储已恢复"),
    _status("agent_offline", H, "Home unit offline", "家庭网关离线",
            alert=AlertRule("high", resolved_by=frozenset({"agent_online"}), notify_desk=True)),
    _status("agent_online", INFO, "Home unit online", "家庭网关上线"),
    _status("edge_clock_wrong", L, "The home unit's clock is wrong", "家庭网关时钟错误",
            alert=AlertRule("low", page=False, resolved_by=frozenset({"edge_clock_ok"}))),
    _status("edge_clock_ok", INFO, "The home unit's clock is right again", "家庭网关时钟已恢复"),
    # -- the registry and the hub itself --------------------------------------------------------
    _status("unknown_home", H, "A home that is not registered is sending",
            "未登记的家庭正在发送数据", alert=AlertRule("high")),
    _status("broker_down", H, "The hub cannot reach the MQTT broker", "中心无法连接消息服务器",
            alert=AlertRule("high"), hub=True),
    _status("influx_down", H, "The hub cannot write to InfluxDB", "中心无法写入读数数据库",
            alert=AlertRule("high"), hub=True),
    _status("ingest_stalled", H, "The hub has received nothing while homes are online",
            "家庭在线但中心未收到任何数据", alert=AlertRule("high"), hub=True),
    _status("pages_failing", H, "Pages fail on every channel of a person",
            "通知在某人的所有渠道均发送失败", alert=AlertRule("high"), hub=True),
    _status("homes_offline_many", H, "Many home units went offline at once",
            "大量家庭网关同时离线", alert=AlertRule("high"), hub=True),
    _status("dead_letter", H, "A message could not be stored: see the dead-letter list",
            "有消息无法保存：请查看死信列表", alert=AlertRule("high", notify_desk=True),
            hub=True),
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


def kind_text(kind: str, language: str = "zh") -> str:
    """Return what people read for a kind; an unknown kind reads as its name."""
    row = KINDS.get(kind)
    return row.text(language) if row else kind.replace("_", " ")
