"""The registry file: sites, homes, people and the rota as TOML tables, taken into the
hub's database once by `bedwatch hub import-registry` (docs/registry.md).

The same section models check what the registry API accepts (`hub.registry.models`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bedwatch.i18n import language_tag
from bedwatch.wire import ID_PATTERN
from hub.channels import person_label, require_channels

__all__ = ["DAYS", "REGISTRY_KEYS", "CaregiverSection", "ContactSection", "EscalationStep",
           "HomeSection", "Language", "OverrideSection", "RegistryDocument", "ResidentSection",
           "RuleOverride", "ShiftSection", "SiteSection"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Role = Literal["oncall", "backup", "supervisor", "family"]
# A supported language of pages (zh_CN, en; "zh-CN" is taken as zh_CN); others are refused.
Language = Annotated[str, StringConstraints(max_length=16), AfterValidator(language_tag)]
LANGUAGE_HELP = "Language of this person's pages (zh_CN or en); unset: the organisation's."
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class EscalationStep(_Model):
    role: Role = Field(description="Who is paged at this step.")
    after_s: float = Field(ge=0, description="Seconds after the alert opened, if not acknowledged.")


def _default_escalation() -> list[EscalationStep]:
    return [EscalationStep(role="oncall", after_s=0), EscalationStep(role="backup", after_s=180),
            EscalationStep(role="supervisor", after_s=360),
            EscalationStep(role="family", after_s=600)]


class RuleOverride(_Model):
    severity: Literal["critical", "high", "low"] | None = Field(None, description="Severity.")
    page: bool | None = Field(None, description="Whether the alert pages anyone.")
    notify_doctor: bool | None = Field(None, description="Also tell the resident's doctor.")
    notify_desk: bool | None = Field(None, description="Also page the monitoring desk at once.")
    enabled: bool | None = Field(
        None, description="Turn the alert on or off; any other override of a kind that is off "
                          "by default (bed_exit) turns it on.")


class SiteSection(_Model):
    id: str = Field(pattern=ID_PATTERN, description="Site id.")
    name: str = Field(min_length=1, max_length=200, description="Name of the care station.")
    kind: Literal["urban", "rural"] = Field("urban", description="Town or remote village.")
    timezone: str = Field("Asia/Shanghai", max_length=64,
                          description="Local time zone for messages.")
    ack_target_s: float | None = Field(None, gt=0, description="Acknowledgement target.")
    arrival_target_s: float | None = Field(
        None, gt=0, description="Arrival target (default 15 min urban, 30 min rural).")
    escalation: list[EscalationStep] = Field(
        default_factory=_default_escalation, min_length=1, max_length=16,
        description="Escalation chain: who is paged how long after an unacknowledged alert; "
                    "the first step pages at once.")
    reminder_every_s: float = Field(60.0, gt=0,
                                    description="Re-page everyone paged so far this often.")
    rules: dict[str, RuleOverride] = Field(default_factory=dict,
                                           description="Alert rules of this site by event kind.")

    @model_validator(mode="after")
    def _defaults(self) -> SiteSection:
        times = [step.after_s for step in self.escalation]
        if times[0] != 0 or times != sorted(times):
            raise ValueError("escalation: the first step has after_s = 0 and later steps "
                             "come later")
        # Home-care-bed service terms: at the door within 15 min in towns, 30 in villages.
        if self.arrival_target_s is None:
            self.arrival_target_s = 900.0 if self.kind == "urban" else 1800.0
        if self.ack_target_s is None:
            self.ack_target_s = 120.0
        return self


class FamilyContact(_Model):
    name: str = Field(description="Name of the family member.")
    notify: list[str] = Field(min_length=1, description="Apprise URLs, tried in order.")
    language: Language | None = Field(None, description=LANGUAGE_HELP)

    @field_validator("notify")
    @classmethod
    def _deliverable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return require_channels(value, f"family contact ({info.data.get('name', '?')})")


class ResidentSection(_Model):
    name: str = Field(description="The resident's name as caregivers know it.")
    doctor_notify: list[str] = Field(default_factory=list,
                                     description="Apprise URLs of the family doctor.")
    family: list[FamilyContact] = Field(default_factory=list,
                                        description="Family contacts: the last escalation step.")
    rules: dict[str, RuleOverride] = Field(default_factory=dict,
                                           description="Alert rules for this resident by kind.")

    @field_validator("doctor_notify")
    @classmethod
    def _deliverable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return require_channels(value, f"the doctor of {info.data.get('name', 'the resident')}",
                                "doctor_notify")


class HomeSection(_Model):
    id: str = Field(pattern=ID_PATTERN, description="Home id (the agent's MQTT user).")
    site: str = Field(description="Site id that serves this home.")
    address: str = Field("", description="Where the caregiver goes.")
    resident: ResidentSection


class CaregiverSection(_Model):
    id: str = Field(pattern=ID_PATTERN, description="Caregiver id.")
    name: str = Field(description="Name shown in the audit and on the page.")
    site: str = Field(description="Site id the caregiver works for.")
    role: Role = Field("oncall", description="Role when no shift in the rota says otherwise.")
    notify: list[str] = Field(min_length=1, description="Apprise URLs, tried in order.")
    language: Language | None = Field(None, description=LANGUAGE_HELP)

    @field_validator("notify")
    @classmethod
    def _deliverable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return require_channels(value, person_label(info.data.get("id"), info.data.get("name")))


class ContactSection(_Model):
    """A person of the organisation itself: the monitoring desk or a technician."""

    id: str = Field(pattern=ID_PATTERN, description="Person id (unique among all people).")
    name: str = Field(description="Name shown in the audit and on the page.")
    notify: list[str] = Field(min_length=1, description="Apprise URLs, tried in order.")
    language: Language | None = Field(None, description=LANGUAGE_HELP)

    @field_validator("notify")
    @classmethod
    def _deliverable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return require_channels(value, person_label(info.data.get("id"), info.data.get("name")))


class ShiftSection(_Model):
    """A weekly shift: who has which role on which days between which local times."""

    site: str = Field(description="Site id.")
    caregiver: str = Field(description="Caregiver id.")
    role: Literal["oncall", "backup", "supervisor"] = Field(description="Role in the shift.")
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        min_length=1, description="Days the shift starts on.")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local start, HH:MM.")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                     description="Local end, HH:MM; before start means the next day.")


class OverrideSection(_Model):
    """A one-off change to the rota: this caregiver has this role in this window."""

    site: str = Field(description="Site id.")
    caregiver: str = Field(description="Caregiver id.")
    role: Literal["oncall", "backup", "supervisor"] = Field(description="Role taken over.")
    start: datetime = Field(description="Start (ISO 8601; local site time if no offset).")
    end: datetime = Field(description="End (ISO 8601; local site time if no offset).")


class RegistryDocument(_Model):
    """Registry tables in a TOML file, taken into the database by `import-registry`."""

    sites: list[SiteSection] = Field(default_factory=list)
    homes: list[HomeSection] = Field(default_factory=list)
    caregivers: list[CaregiverSection] = Field(default_factory=list)
    shifts: list[ShiftSection] = Field(default_factory=list)
    overrides: list[OverrideSection] = Field(default_factory=list)
    desk: list[ContactSection] = Field(
        default_factory=list,
        description="The monitoring desk: paged for what no site can answer (unregistered "
                    "homes, a chain with nobody on it, home units offline).")
    technicians: list[ContactSection] = Field(
        default_factory=list,
        description="Who keeps the hub running: paged by the watchdog (the desk if empty).")

    @model_validator(mode="after")
    def _references(self) -> RegistryDocument:
        sites = {s.id for s in self.sites}
        for i, home in enumerate(self.homes):
            if home.site not in sites:
                raise ValueError(f"homes[{i}].site: unknown site {home.site!r}")
        for i, caregiver in enumerate(self.caregivers):
            if caregiver.site not in sites:
                raise ValueError(f"caregivers[{i}].site: unknown site {caregiver.site!r}")
        caregivers = {c.id for c in self.caregivers}
        seen: dict[str, str] = {}
        people = [*(("caregivers", i, c.id) for i, c in enumerate(self.caregivers)),
                  *(("desk", i, c.id) for i, c in enumerate(self.desk)),
                  *(("technicians", i, c.id) for i, c in enumerate(self.technicians))]
        for name, i, person_id in people:
            if person_id in seen:
                raise ValueError(f"{name}[{i}].id: {person_id!r} is already {seen[person_id]}")
            seen[person_id] = f"{name}[{i}]"
        entries: list[tuple[str, int, ShiftSection | OverrideSection]] = [
            *(("shifts", i, e) for i, e in enumerate(self.shifts)),
            *(("overrides", i, e) for i, e in enumerate(self.overrides))]
        for name, i, entry in entries:
            if entry.site not in sites:
                raise ValueError(f"{name}[{i}].site: unknown site {entry.site!r}")
            if entry.caregiver not in caregivers:
                raise ValueError(f"{name}[{i}].caregiver: unknown caregiver {entry.caregiver!r}")
        for i, override in enumerate(self.overrides):
            if (override.start.tzinfo is None) != (override.end.tzinfo is None):
                raise ValueError(f"overrides[{i}].end: give both times with an offset, or "
                                 "neither (site-local time)")
            if override.end <= override.start:
                raise ValueError(f"overrides[{i}].end: must be after start")
        return self


# The tables that moved from hub.toml into the database.
REGISTRY_KEYS = tuple(RegistryDocument.model_fields)
