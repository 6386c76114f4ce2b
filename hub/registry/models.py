"""What the registry service accepts: one strict pydantic model per kind of row.

`<Kind>In` creates a row (an absent id is made up, opaque); `<Kind>Patch`, made from it, holds
the fields an update changes. The service merges a patch into the row and validates the
result with the full model, so an update is checked exactly as a creation is.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
)

from bedwatch.wire import ID_PATTERN
from hub.channels import person_label, require_channels
from hub.registry_file import (
    DAYS,
    LANGUAGE_HELP,
    EscalationStep,
    Language,
    RuleOverride,
    SiteSection,
)

CareCategory = Literal["disabled", "dementia", "living_alone", "empty_nest", "low_income"]
PersonRole = Literal["oncall", "backup", "supervisor", "desk", "technician", "family", "doctor"]
# Roles of a site's staff, of the organisation itself, and of one home's contacts.
SITE_ROLES = frozenset({"oncall", "backup", "supervisor"})
ORG_ROLES = frozenset({"desk", "technician"})
HOME_ROLES = frozenset({"family", "doctor"})
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
# A reference to another row by id, and a pager channel: bounded like the rows they name.
Ref = Annotated[str, Field(max_length=64)]
ChannelUrl = Annotated[str, Field(min_length=1, max_length=1000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long
        raise ValueError(f"unknown time zone {value!r} (expected e.g. Asia/Shanghai)") from exc
    return value


class OrganisationIn(_In):
    id: str = Field(pattern=ID_PATTERN, description="Organisation id.")
    name: str = Field(min_length=1, max_length=200, description="Name of the organisation.")
    timezone: str = Field("Asia/Shanghai", max_length=64, description="Local time zone.")
    language: Language = Field("zh_CN", description="Language of its people's pages: zh_CN "
                                                    "(Simplified Chinese) or en.")

    _tz = field_validator("timezone")(_zone)


class SiteIn(SiteSection):
    """A site (care station): a `[[sites]]` table of the registry file, and its organisation."""

    organisation: Ref | None = Field(None, description="Organisation id that runs the site.")

    _tz = field_validator("timezone")(_zone)


class ConsentIn(_In):
    """What the resident agreed to: each device family monitored, and with whom it is shared."""

    bed_sensor: bool = Field(False, description="Bed sensor (presence, breathing, heart rate).")
    fall_mat: bool = Field(False, description="Fall mat.")
    call_button: bool = Field(False, description="Call button.")
    radar: bool = Field(False, description="Radar (movement, falls).")
    bp_cuff: bool = Field(False, description="Blood-pressure cuff.")
    share_with_family: bool = Field(False, description="Family contacts see alerts.")
    share_with_doctor: bool = Field(False, description="The family doctor is told.")


class ResidentIn(_In):
    id: str | None = Field(None, pattern=ID_PATTERN,
                           description="Resident id; made up (r-<8 hex>) when absent.")
    home: Ref | None = Field(None, description="Home id (implied when given with its home).")
    name: str = Field(min_length=1, max_length=200, description="Name as caregivers know it.")
    sex: Literal["female", "male", ""] = Field("", description="Sex, if recorded.")
    birth_year: int | None = Field(None, ge=1890, le=2100, description="Year of birth.")
    phone: str = Field("", max_length=40, description="The resident's own phone.")
    care_categories: list[CareCategory] = Field(
        default_factory=list, max_length=5, description="Why the resident is cared for at home.")
    conditions: str = Field("", max_length=4000, description="Known conditions.")
    allergies: str = Field("", max_length=4000, description="Allergies.")
    medical_notes: str = Field("", max_length=8000, description="Notes for the caregiver.")
    consent: ConsentIn = Field(default_factory=ConsentIn,
                               description="What is monitored and shared, as agreed.")
    consent_at: datetime | None = Field(None, description="When consent was given (ISO 8601).")

    @field_validator("care_categories")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class DeviceIn(_In):
    id: str = Field(pattern=ID_PATTERN, description="Device id, as on the wire.")
    type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Device type, e.g. "
                                                                     "call_button.")
    role: str = Field("", max_length=32, description="Where it serves, e.g. bedside.")
    label: str = Field("", max_length=200, description="Label for people.")


class HomeIn(_In):
    id: str | None = Field(None, pattern=ID_PATTERN,
                           description="Home id (the agent's MQTT user); made up (h-<8 hex>) "
                                       "when absent.")
    site: Ref = Field(description="Site id that serves this home.")
    address: str = Field("", max_length=400, description="Where the caregiver goes.")
    door_notes: str = Field("", max_length=2000, description="How to get in: door, stairs.")
    key_notes: str = Field("", max_length=2000, description="Where the key is, the code.")
    phone: str = Field("", max_length=40, description="The home's phone.")
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude (WGS 84).")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude (WGS 84).")
    rules: dict[str, RuleOverride] = Field(default_factory=dict,
                                           description="Alert rules for this home by kind.")
    resident: ResidentIn | None = Field(None, description="The resident, enrolled with it.")
    devices: list[DeviceIn] = Field(default_factory=list, max_length=64,
                                    description="Its devices.")


class PersonIn(_In):
    id: str | None = Field(None, pattern=ID_PATTERN,
                           description="Person id, unique among all people; made up "
                                       "(p-<8 hex>) when absent.")
    name: str = Field(min_length=1, max_length=200, description="Name shown on pages.")
    role: PersonRole = Field(description="Standing role.")
    site: Ref | None = Field(None, description="Site id (staff: oncall, backup, supervisor).")
    home: Ref | None = Field(None, description="Home id (contacts: family, doctor).")
    notify: list[ChannelUrl] = Field(min_length=1, max_length=10,
                                     description="Apprise URLs, tried in order.")
    phone: str = Field("", max_length=40, description="Phone number.")
    language: Language | None = Field(None, description=LANGUAGE_HELP)

    @field_validator("notify")
    @classmethod
    def _deliverable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # A wrong contact is refused here, not found when a real page fails.
        return require_channels(value, person_label(info.data.get("id"), info.data.get("name")))


class ShiftIn(_In):
    caregiver: Ref = Field(description="Caregiver id.")
    role: Literal["oncall", "backup", "supervisor"] = Field(description="Role in the shift.")
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        min_length=1, max_length=7, description=f"Days the shift starts on, of {', '.join(DAYS)}.")
    start: str = Field(pattern=HHMM, description="Local start, HH:MM.")
    end: str = Field(pattern=HHMM, description="Local end, HH:MM; before start: the next day.")


class OverrideIn(_In):
    caregiver: Ref = Field(description="Caregiver id.")
    role: Literal["oncall", "backup", "supervisor"] = Field(description="Role taken over.")
    start: datetime = Field(description="Start (ISO 8601; site-local time if no offset).")
    end: datetime = Field(description="End (ISO 8601; site-local time if no offset).")


class RotaIn(_In):
    """A site's whole rota: it replaces the one before."""

    shifts: list[ShiftIn] = Field(default_factory=list, max_length=1000,
                                  description="Weekly shifts.")
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=1000,
                                        description="One-off changes.")


def partial(model: type[BaseModel], *, omit: tuple[str, ...] = ("id",)) -> type[_In]:
    """Return `model` with every field optional and unset by default (an update's body)."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in omit:
            continue
        optional = copy.copy(info)
        optional.default, optional.default_factory = None, None
        fields[name] = (info.annotation | None, optional)  # type: ignore[operator]
    return create_model(f"{model.__name__.removesuffix('In')}Patch", __base__=_In, **fields)


OrganisationPatch = partial(OrganisationIn)
SitePatch = partial(SiteIn)
HomePatch = partial(HomeIn, omit=("id", "resident", "devices"))
ResidentPatch = partial(ResidentIn, omit=("id", "home"))
DevicePatch = partial(DeviceIn)
PersonPatch = partial(PersonIn)

__all__ = ["CareCategory", "ConsentIn", "DeviceIn", "DevicePatch", "EscalationStep", "HomeIn",
           "HomePatch", "OrganisationIn", "OrganisationPatch", "OverrideIn", "PersonIn",
           "PersonPatch", "ResidentIn", "ResidentPatch", "RotaIn", "ShiftIn", "SiteIn",
           "SitePatch"]
