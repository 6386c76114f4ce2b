"""One alert as a caregiver at the door needs it: what happened and the evidence, who the
resident is, where to go and how to get in, who else is on it, how long is left, and whom to
call. Every text is in the reader's language (the `web` catalogue); nothing shows an id.

Medical details and how to get in (door and key notes) are shown only to the staff of the
station that serves the home: the desk and family see the alert, not the resident's file.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bedwatch.i18n import N_, age, duration, local_time, zone_info
from bedwatch.kinds import kind_text
from hub.alerts.escalation import chain_role
from hub.db import Alert, Caregiver, Home, Page, Resident, Site
from hub.registry import HUB_HOME, STAFF_ROLES, allowed_actions
from hub.rota import on_duty
from hub.web.texts import state_word, web

# The plain words of the care categories of a resident.
CARE_CATEGORIES = {
    "disabled": N_("needs help with daily living"),
    "dementia": N_("dementia"),
    "living_alone": N_("lives alone"),
    "empty_nest": N_("empty nest (children away)"),
    "low_income": N_("low income"),
}
# Who a level of the escalation chain is, in words.
ROLES = {
    "oncall": N_("caregiver on call"),
    "backup": N_("backup caregiver"),
    "supervisor": N_("station supervisor"),
    "family": N_("family"),
    "desk": N_("monitoring desk"),
}
REMINDER_REASONS = ("reminder", "silence_end")


def _number(value: Any) -> str | None:
    """Return a reading as people write it (132, 37.5), or None if it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 20 else f"{value:.1f}"


def evidence(alert: Alert, lang: str, now: float) -> str:
    """Return what the devices saw, in plain words ("on the floor for 4 min"); "" if nothing."""
    _ = web(lang)
    data, kind = alert.data or {}, alert.kind
    since = data.get("since")
    lasting = now - (float(since) if isinstance(since, (int, float)) else alert.first_event_t)
    if kind == "call":
        return _("Pressed the call button")
    if kind == "fall":
        source = data.get("source")
        if source == "mat":
            return _("The floor mat felt a fall")
        if source == "radar":
            return _("The radar saw a fall")
        return ""
    if kind == "long_lie":
        return _("On the floor for {span}", span=duration(lasting, lang))
    if kind == "apnea" and _number(data.get("duration_s")):
        return _("No breathing for {span}",
                       span=duration(float(data["duration_s"]), lang))
    if kind in ("tachycardia", "bradycardia") and _number(data.get("heart_rate_bpm")):
        return _("Heart rate {bpm}, for {span}",
                       bpm=_number(data["heart_rate_bpm"]),
                       span=duration(now - alert.first_event_t, lang))
    if kind in ("tachypnea", "bradypnea") and _number(data.get("breathing_rate_bpm")):
        return _("Breathing {rate} a minute, for {span}",
                       rate=_number(data["breathing_rate_bpm"]),
                       span=duration(now - alert.first_event_t, lang))
    if kind == "not_returned":
        left = data.get("left_at")
        away = now - float(left) if isinstance(left, (int, float)) else lasting
        return _("Out of bed for {span} at night", span=duration(away, lang))
    if kind == "inactivity" and _number(data.get("still_s")):
        still = float(data["still_s"]) + now - alert.first_event_t
        return _("No movement for {span}", span=duration(still, lang))
    if kind == "not_up_by" and isinstance(data.get("local_time"), str):
        return _("Still in bed at {time}", time=data["local_time"])
    if kind in ("bp_crisis", "bp_high") and _number(data.get("systolic_mmhg")) and \
            _number(data.get("diastolic_mmhg")):
        return _("Blood pressure {sys}/{dia} mmHg",
                       sys=_number(data["systolic_mmhg"]), dia=_number(data["diastolic_mmhg"]))
    if kind.startswith("news2") and _number(data.get("score")):
        return _("Early-warning score {score} (bed-side sensors only: partial)",
                       score=_number(data["score"]))
    return ""


def amap_link(home: Home, label: str) -> str | None:
    """Return a map link to the home: a marker at its position (WGS 84), else an address search.

    Amap's URI API (lbs.amap.com/api/uri-api): `marker?position=<lon>,<lat>` with
    `coordinate=wgs84` for GPS coordinates; `search?keyword=` when only the address is known.
    """
    if home.lat is not None and home.lon is not None:
        query = {"position": f"{home.lon},{home.lat}", "name": label, "src": "bedwatch",
                 "coordinate": "wgs84", "callnative": "1"}
        return "https://uri.amap.com/marker?" + urllib.parse.urlencode(query)
    if home.address:
        return "https://uri.amap.com/search?" + urllib.parse.urlencode(
            {"keyword": home.address, "src": "bedwatch", "callnative": "1"})
    return None


def tel(number: str) -> str | None:
    """Return a `tel:` link of a phone number as registered (spaces and dashes dropped)."""
    digits = "".join(c for c in number if c.isdigit() or c == "+")
    return f"tel:{digits}" if len(digits.lstrip("+")) >= 3 else None


def is_station_staff(person: Caregiver, home: Home | None) -> bool:
    """Return True when `person` works for the station that serves `home`."""
    return home is not None and person.role in STAFF_ROLES and person.home_id is None \
        and person.site_id == home.site_id


def _name(session: Session, person_id: str | None, lang: str) -> str | None:
    """Return a person's name for people to read (never their id)."""
    _ = web(lang)
    if not person_id:
        return None
    if person_id == "system":
        return _("the system")
    row = session.get(Caregiver, person_id)
    return row.name if row is not None else _("a colleague")


def _moment(t: float | None, lang: str, now: float, zone: str) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"t": t, "local": local_time(t, now=now, lang=lang, zone=zone),
            "age": age(now - t, lang)}


def _who(session: Session, home: Home, lang: str, now: float, zone: str,
         staff: bool) -> dict[str, Any]:
    _ = web(lang)
    residents = list(session.scalars(select(Resident).where(
        Resident.home_id == home.id, Resident.active).order_by(Resident.id)))
    if not residents:
        return {"people": [{"name": home.resident_name}]}
    people = []
    for row in residents:
        one: dict[str, Any] = {"name": row.name}
        if staff:
            year = datetime.fromtimestamp(now, zone_info(zone)).year
            one["age"] = _("{n} years old", n=year - row.birth_year) \
                if row.birth_year else ""
            one["sex"] = {"female": _("female"),
                          "male": _("male")}.get(row.sex, "")
            one["care"] = [_(CARE_CATEGORIES[c]) for c in row.care_categories
                           if c in CARE_CATEGORIES]
            one["conditions"] = row.conditions
            one["allergies"] = row.allergies
            one["notes"] = row.medical_notes
        people.append(one)
    return {"people": people}


def _calls(session: Session, home: Home, lang: str, now: float) -> list[dict[str, str]]:
    """Return whom to call about a home, in the order a caregiver needs them."""
    _ = web(lang)
    calls: list[dict[str, str]] = []

    def add(label: str, name: str, number: str) -> None:
        link = tel(number)
        if link and all(c["tel"] != link for c in calls):
            calls.append({"label": label, "name": name, "tel": link, "number": number})

    for resident in session.scalars(select(Resident).where(Resident.home_id == home.id,
                                                           Resident.active)):
        add(_("Resident"), resident.name, resident.phone)
    add(_("Home phone"), home.resident_name, home.phone)
    for row in session.scalars(select(Caregiver).where(
            Caregiver.home_id == home.id, Caregiver.role == "family", Caregiver.active)
            .order_by(Caregiver.id)):
        add(_("Family"), row.name, row.phone)
    # The station: its supervisor on duty now, else any of its supervisors with a phone.
    site = session.get(Site, home.site_id)
    ids = on_duty(session, home.site_id, "supervisor", now)
    supervisors = sorted(session.scalars(select(Caregiver).where(
        Caregiver.site_id == home.site_id, Caregiver.role == "supervisor",
        Caregiver.home_id.is_(None), Caregiver.active)), key=lambda p: (p.id not in ids, p.id))
    for row in supervisors:
        add(_("Station"), f"{site.name if site else ''} · {row.name}", row.phone)
    return calls


def _others(session: Session, alert: Alert, person: Caregiver) -> list[str]:
    """Return the names of the other people paged for an alert, in the order paged."""
    ids = session.scalars(select(Page.caregiver_id).where(Page.alert_id == alert.id)
                          .group_by(Page.caregiver_id).order_by(func.min(Page.id)))
    names = []
    for person_id in ids:
        row = session.get(Caregiver, person_id)
        if person_id != person.id and row is not None:
            names.append(row.name)
    return names


def _sla(alert: Alert, site: Site | None, lang: str) -> list[dict[str, Any]]:
    """Return the service-level targets still running: acknowledgement, then arrival."""
    _ = web(lang)
    targets = []
    if alert.state == "open" and alert.ack_due_at is not None:
        targets.append({"label": _("Acknowledge within {span}", span=duration(
            alert.ack_due_at - alert.opened_at, lang)), "due": alert.ack_due_at,
            "kind": "ack"})
    arrival = alert.arrival_due_at
    if arrival is None and site is not None:
        arrival = alert.opened_at + site.arrival_target_s
    if alert.state in ("open", "acknowledged") and arrival is not None:
        targets.append({"label": _("At the door within {span}", span=duration(
            arrival - alert.opened_at, lang)), "due": arrival, "kind": "arrival"})
    return targets


def _escalation(session: Session, alert: Alert, site: Site | None,
                lang: str) -> dict[str, Any]:
    _ = web(lang)
    reminders = session.scalar(select(func.count(func.distinct(Page.created_at))).where(
        Page.alert_id == alert.id, Page.reason.in_(REMINDER_REASONS))) or 0
    text = ""
    if alert.level > 0 and site is not None and site.escalation:
        role = chain_role(site, alert.level)
        text = _("Escalated to level {n}: {role}", n=alert.level + 1,
                       role=_(ROLES.get(role, role)))
    return {"level": alert.level, "text": text, "reminders": reminders,
            "reminders_text": _("Reminders sent: {n}", n=reminders)
            if reminders else ""}


def alert_view(session: Session, alert: Alert, person: Caregiver, lang: str,
               now: float) -> dict[str, Any]:
    """Return what the caregiver's page shows of one alert, for `person` in `lang`."""
    _ = web(lang)
    home = session.get(Home, alert.home) if alert.home != HUB_HOME else None
    site = session.get(Site, home.site_id) if home is not None else None
    zone = site.timezone if site is not None else "Asia/Shanghai"
    staff = is_station_staff(person, home)
    view: dict[str, Any] = {
        **{k: getattr(alert, k) for k in ("id", "home", "kind", "severity", "state",
                                          "first_event_t", "event_count", "acknowledged_by")},
        "what": kind_text(alert.kind, lang),
        "evidence": evidence(alert, lang, now),
        "state_text": state_word(alert.state, lang),
        "repeated": _("{n} times", n=alert.event_count)
        if alert.event_count > 1 else "",
        "since": _moment(alert.first_event_t, lang, now, zone),
        "acknowledged": _moment(alert.acknowledged_at, lang, now, zone),
        "acknowledged_name": _name(session, alert.acknowledged_by, lang),
        "on_site": _moment(alert.on_site_at, lang, now, zone),
        "on_site_name": _name(session, alert.on_site_by, lang),
        "mine": alert.acknowledged_by == person.id,
        "escalation": _escalation(session, alert, site, lang),
        "sla": _sla(alert, site, lang),
        "others": _others(session, alert, person),
        "actions": allowed_actions(person, alert.home, site.id if site else None),
        "staff": staff,
    }
    # The plain fields of the page's data, for other readers of it (names, not prose).
    view["resident"], view["address"] = (
        (home.resident_name, home.address) if home is not None
        else ("the hub itself", "") if alert.home == HUB_HOME
        else ("unregistered home", "not in the registry"))
    if home is None:
        view["who"] = {"people": [{"name": _("the hub itself")
                                   if alert.home == HUB_HOME else
                                   _("a home not in the registry")}]}
        view["where"] = {"address": "", "map": None}
        view["calls"] = []
        return view
    view["who"] = _who(session, home, lang, now, zone, staff)
    view["where"] = {"address": home.address, "map": amap_link(home, home.resident_name),
                     "door": home.door_notes if staff else "",
                     "key": home.key_notes if staff else ""}
    view["calls"] = _calls(session, home, lang, now)
    return view
