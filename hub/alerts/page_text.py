"""What a page says, per channel, in the person's language with the other one beside it.

A page is written for a caregiver woken at 3 am: what happened in plain words with its
evidence ("按下了呼叫按钮 / pressed the call button", "在地上已 4 分钟 / on the floor for 4 min"),
who, where, since when (local time and age), why it comes again (reminder, escalation, a
missed target), by when it must be acknowledged, and the links.

Three renderings, chosen by the channel (`hub.pager.channel_style`):

| style | channels | shape |
|---|---|---|
| `sms` | SMS gateways | what, who, where in one 70-unit UCS-2 segment; evidence; link |
| `markdown` | DingTalk, Feishu | a card: one fact a line, both languages, links |
| `plain` | the rest (WeCom bots, ntfy, e-mail…) | the same facts as plain lines |

SMS is in the person's language only: a second language would cost a second message.

Everything here is pure: `PageFacts` is gathered from the database by
`hub.alerts.delivery.Messages`, so the texts are tested without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bedwatch.i18n import N_, Translator, age, duration, local_time, other_language, translator
from bedwatch.kinds import kind_text

SMS_SEGMENT_UNITS = 70  # one SMS in UCS-2 (3GPP TS 23.038): 140 octets, 2 per unit
SMS_MIN_WHO_UNITS = 12  # room kept for the name (and address) after the kind in an SMS

# Why a page comes (Page.reason): the short tag that starts its title.
REASON_TAGS: dict[str, str] = {
    "alert": "",
    "reminder": N_("Reminder"),
    "escalation": N_("Escalated"),
    "sla_ack": N_("Not acknowledged in time"),
    "sla_arrival": N_("Nobody on site in time"),
    "doctor": N_("For the doctor"),
    "silence_end": N_("After silence"),
}
SEVERITY_TAGS: dict[str, str] = {
    "critical": N_("URGENT"), "high": N_("Important"), "low": N_("Notice")}
ROLE_TEXTS: dict[str, str] = {
    "oncall": N_("on-call caregiver"), "backup": N_("backup caregiver"),
    "supervisor": N_("supervisor"), "family": N_("family"), "desk": N_("monitoring desk"),
    "technician": N_("technician"), "doctor": N_("doctor"),
}


@dataclass(frozen=True)
class Evidence:
    """One way to say what the data of an alert shows; used when all its `keys` are there."""

    msgid: str
    keys: tuple[str, ...] = ()
    seconds: tuple[str, ...] = ()  # keys that hold seconds: read as "4 分钟" / "4 min"


# The evidence of each kind, most telling first; a kind not here shows its name only.
EVIDENCE: dict[str, tuple[Evidence, ...]] = {
    "call": (Evidence(N_("pressed the call button")),),
    "fall": (Evidence(N_("on the floor for {lying_s}"), ("lying_s",), ("lying_s",)),
             Evidence(N_("the radar saw a fall"), ("radar",))),
    "long_lie": (Evidence(N_("on the floor for {lying_s}"), ("lying_s",), ("lying_s",)),
                 Evidence(N_("the radar sees someone not moving"), ("radar",))),
    "apnea": (Evidence(N_("no breathing for {duration_s}"), ("duration_s",), ("duration_s",)),),
    "not_returned": (Evidence(N_("out of bed for {away_s} in the night"), ("away_s",),
                              ("away_s",)),),
    "inactivity": (Evidence(N_("no movement for {still_s}"), ("still_s",), ("still_s",)),),
    "reposition_due": (Evidence(N_("in one position for {still_s}"), ("still_s",),
                                ("still_s",)),),
    "not_up_by": (Evidence(N_("still in bed at {local_time}"), ("local_time",)),),
    **{kind: (Evidence(N_("heart rate {heart_rate_bpm} for {duration_s}"),
                       ("heart_rate_bpm", "duration_s"), ("duration_s",)),
              Evidence(N_("heart rate {heart_rate_bpm}"), ("heart_rate_bpm",)))
       for kind in ("tachycardia", "bradycardia")},
    **{kind: (Evidence(N_("breathing {breathing_rate_bpm} a minute"), ("breathing_rate_bpm",)),)
       for kind in ("tachypnea", "bradypnea")},
    **{kind: (Evidence(N_("blood pressure {systolic_mmhg}/{diastolic_mmhg} mmHg"),
                       ("systolic_mmhg", "diastolic_mmhg")),)
       for kind in ("bp_crisis", "bp_high")},
    **{kind: (Evidence(N_("early-warning score {score} (bed-side sensors only)"), ("score",)),)
       for kind in ("news2_medium", "news2_high")},
    "low_battery": (Evidence(N_("battery at {battery_pct}%"), ("battery_pct",)),),
}


@dataclass(frozen=True)
class PageFacts:
    """Everything a page says, read from the registry and the alert at the moment it goes."""

    alert_id: int
    kind: str
    severity: str
    reason: str
    language: str
    now: float
    first_event_t: float
    zone: str
    resident: str  # a name, or a text saying that there is none
    home: str
    address: str = ""
    resident_age: int | None = None
    event_count: int = 1
    data: dict[str, Any] = field(default_factory=dict)
    level: int = 0
    role: str | None = None  # the role paged at this level of the chain
    level_after_s: float | None = None  # when that level was due after the alert opened
    reminder: int = 0  # which reminder this is, for this person
    ack_due_at: float | None = None
    ack_target_s: float | None = None
    arrival_due_at: float | None = None
    arrival_target_s: float | None = None
    acknowledged_by: str | None = None  # a name
    details: str = ""  # the readings for a doctor, or what the hub says of itself
    ack_link: str | None = None
    page_link: str | None = None


def ucs2_units(text: str) -> int:
    """Return the length of a text in UCS-2 units (a character beyond the BMP takes two)."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def clip(text: str, units: int) -> str:
    """Return `text` cut to `units` UCS-2 units, ending in "…" when it was cut."""
    if ucs2_units(text) <= units:
        return text
    out, used = [], 0
    for c in text:
        size = 2 if ord(c) > 0xFFFF else 1
        if used + size > units - 1:
            break
        out.append(c)
        used += size
    return "".join(out) + "…" if units > 0 else ""


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"
    return str(value)


def evidence(kind: str, data: dict[str, Any], lang: str) -> str | None:
    """Return what the alert's data shows, in plain words; None when it shows nothing more."""
    texts = translator(lang)
    for row in EVIDENCE.get(kind, ()):
        if all(data.get(key) not in (None, "") for key in row.keys):
            fields = {key: duration(float(data[key]), lang) if key in row.seconds
                      else _number(data[key]) for key in row.keys}
            return texts.gettext(row.msgid).format(**fields)
    return None


def _tag(facts: PageFacts, texts: Translator, *, severity: bool) -> str:
    parts = [texts.gettext(SEVERITY_TAGS[facts.severity])] \
        if severity and facts.severity in SEVERITY_TAGS else []
    reason = REASON_TAGS.get(facts.reason, "")
    if reason:
        parts.append(texts.gettext(reason) + (f" {facts.reminder}" if facts.reason == "reminder"
                                              and facts.reminder else ""))
    return f"[{' · '.join(parts)}] " if parts else ""


def _what(facts: PageFacts, lang: str) -> str:
    what = kind_text(facts.kind, lang)
    seen = evidence(facts.kind, facts.data, lang)
    if seen:
        what = f"{what} — {seen}"
    if facts.event_count > 1:
        count = translator(lang).ngettext("({n} time)", "({n} times)", facts.event_count)
        # A full-width bracket carries its own space.
        what += ("" if count.startswith("（") else " ") + count.format(n=facts.event_count)
    return what


def _since(facts: PageFacts, lang: str) -> str:
    at = local_time(facts.first_event_t, now=facts.now, lang=lang, zone=facts.zone)
    return translator(lang).gettext("{time} ({age})").format(
        time=at, age=age(facts.now - facts.first_event_t, lang))


def _why(facts: PageFacts, lang: str) -> str | None:
    """Return why this page comes again, with the level and the target it is about."""
    texts = translator(lang)
    if facts.reason == "escalation":
        role = texts.gettext(ROLE_TEXTS.get(facts.role or "", facts.role or ""))
        if facts.level_after_s is not None and facts.level > 0:
            return texts.gettext("level {level} ({role}): nobody acknowledged within "
                                 "{after}").format(level=facts.level, role=role,
                                                   after=duration(facts.level_after_s, lang))
        return texts.gettext("passed on to the {role}").format(role=role)
    if facts.reason == "reminder":
        return texts.gettext("reminder {n}: still not acknowledged").format(n=facts.reminder)
    if facts.reason == "sla_ack" and facts.ack_target_s:
        return texts.gettext("not acknowledged within the {target} target").format(
            target=duration(facts.ack_target_s, lang))
    if facts.reason == "sla_arrival" and facts.arrival_target_s:
        return texts.gettext("nobody on site within the {target} target").format(
            target=duration(facts.arrival_target_s, lang))
    if facts.reason == "silence_end":
        return texts.gettext("the silence has ended and the alert is still open")
    if facts.reason == "doctor":
        return texts.gettext("for your information: the resident's readings are below")
    return None


def _due(facts: PageFacts, lang: str) -> str | None:
    """Return by when to acknowledge and to be there, or who already has it."""
    texts = translator(lang)
    if facts.acknowledged_by:
        return texts.gettext("acknowledged by {name}").format(name=facts.acknowledged_by)
    parts = []
    if facts.ack_due_at is not None:
        if facts.now >= facts.ack_due_at:
            parts.append(texts.gettext("acknowledgement overdue since {time}").format(
                time=local_time(facts.ack_due_at, now=facts.now, lang=lang, zone=facts.zone)))
        else:
            parts.append(texts.gettext("acknowledge by {time} ({target} target)").format(
                time=local_time(facts.ack_due_at, now=facts.now, lang=lang, zone=facts.zone),
                target=duration(facts.ack_target_s or 0, lang)))
    if facts.arrival_due_at is not None:
        parts.append(texts.gettext("on site by {time} ({target} target)").format(
            time=local_time(facts.arrival_due_at, now=facts.now, lang=lang, zone=facts.zone),
            target=duration(facts.arrival_target_s or 0, lang)))
    return texts.gettext("; ").join(parts) if parts else None


def _who(facts: PageFacts, lang: str) -> str:
    if facts.resident_age is None:
        return facts.resident
    return translator(lang).gettext("{name} (age {age})").format(name=facts.resident,
                                                                 age=facts.resident_age)


def _where(facts: PageFacts) -> str:
    return f"{facts.address} ({facts.home})" if facts.address and facts.home else \
        facts.address or facts.home


@dataclass(frozen=True)
class Line:
    """One fact of a page: its label, and its value in the person's and the other language."""

    label: str  # msgid
    first: str
    second: str | None = None


def _lines(facts: PageFacts) -> list[Line]:
    lang, other = facts.language, other_language(facts.language)

    def fact(label: str, make: Any) -> Line | None:
        first, second = make(lang), make(other)
        return None if first is None else Line(label, first, second)

    lines = [
        fact(N_("What"), lambda lg: _what(facts, lg)),
        fact(N_("Who"), lambda lg: _who(facts, lg)),
        Line(N_("Where"), _where(facts)),
        fact(N_("Since"), lambda lg: _since(facts, lg)),
        fact(N_("Why again"), lambda lg: _why(facts, lg)),
        fact(N_("Deadline"), lambda lg: _due(facts, lg)),
    ]
    if facts.details:
        lines.append(Line(N_("Readings"), facts.details))
    return [line for line in lines if line is not None]


def _label(label: str, lang: str) -> str:
    first, second = translator(lang).gettext(label), \
        translator(other_language(lang)).gettext(label)
    return f"{first} {second}" if first != second else first


def _value(line: Line) -> str:
    return line.first if not line.second or line.second == line.first else \
        f"{line.first} / {line.second}"


def title(facts: PageFacts) -> str:
    """Return the title: tags, what (both languages), who, and the alert's number."""
    lang, other = facts.language, other_language(facts.language)
    first, second = kind_text(facts.kind, lang), kind_text(facts.kind, other)
    what = first if first == second else f"{first} / {second}"
    return f"{_tag(facts, translator(lang), severity=True)}{what} — {facts.resident} " \
        f"· #{facts.alert_id}"


def _links(facts: PageFacts) -> list[tuple[str, str]]:
    out = []
    if facts.ack_link:
        out.append((N_("I am taking it (acknowledge)"), facts.ack_link))
    if facts.page_link:
        out.append((N_("Your alerts"), facts.page_link))
    return out


def plain(facts: PageFacts) -> tuple[str, str]:
    """Return the title and body of a page as plain text lines."""
    lang = facts.language
    body = [f"{_label(line.label, lang)}: {_value(line)}" for line in _lines(facts)]
    body += [f"{_label(label, lang)}: {url}" for label, url in _links(facts)]
    return title(facts), "\n".join(body)


def md_escape(text: str) -> str:
    """Return text with the characters that would turn it bold, italic, code or a link
    escaped (only those: DingTalk and Feishu show other backslashes as they are)."""
    return "".join(f"\\{c}" if c in "\\`*_[]" else c for c in text)


def markdown(facts: PageFacts) -> tuple[str, str]:
    """Return the title and the markdown body of a page (DingTalk, Feishu cards)."""
    lang = facts.language
    body = [f"- **{_label(line.label, lang)}**: {md_escape(_value(line))}"
            for line in _lines(facts)]
    links = [f"[{_label(label, lang)}]({url})" for label, url in _links(facts)]
    if links:
        body += ["", "  ·  ".join(links)]
    return title(facts), "\n".join(body)


def sms_first_line(facts: PageFacts) -> str:
    """Return what, who and where within one SMS segment; the kind is never cut.

    The address gives way first, then the name (each ends in "…" when cut); the tag (why
    the page comes again) goes when it would leave the name too little room.
    """
    lang = facts.language
    texts = translator(lang)
    what = kind_text(facts.kind, lang)
    sep, comma = texts.gettext(": "), texts.gettext(", ")
    head = f"{_tag(facts, texts, severity=False)}{what}"
    if SMS_SEGMENT_UNITS - ucs2_units(head) - ucs2_units(sep) < SMS_MIN_WHO_UNITS:
        head = what  # who matters more than why it comes again
    room = SMS_SEGMENT_UNITS - ucs2_units(head) - ucs2_units(sep)
    name, place = facts.resident, facts.address or facts.home
    if room <= 1:
        return head
    if ucs2_units(name) + ucs2_units(comma) + ucs2_units(place) <= room:
        return f"{head}{sep}{name}{comma}{place}" if place else f"{head}{sep}{name}"
    # The name keeps at least half the room; the address takes what is left of it.
    name = clip(name, max(room // 2, room - ucs2_units(comma) - ucs2_units(place)))
    left = room - ucs2_units(name) - ucs2_units(comma)
    place = clip(place, left) if left >= 4 else ""
    return f"{head}{sep}{name}{comma}{place}" if place else f"{head}{sep}{name}"


def sms(facts: PageFacts) -> tuple[str, str]:
    """Return an SMS: no title (gateways put it in the text), the first line, then the
    evidence, the time and the deadline in short, then the acknowledge link."""
    lang = facts.language
    texts = translator(lang)
    second = [part for part in (evidence(facts.kind, facts.data, lang),
                                local_time(facts.first_event_t, now=facts.now, lang=lang,
                                           zone=facts.zone),
                                _why(facts, lang), _due(facts, lang)) if part]
    lines = [sms_first_line(facts), texts.gettext("; ").join(second)]
    sep = texts.gettext(": ")
    if facts.ack_link:
        lines.append(texts.gettext("Acknowledge") + sep + facts.ack_link)
    elif facts.page_link:
        lines.append(texts.gettext("Your alerts") + sep + facts.page_link)
    return "", "\n".join(lines)


RENDERERS = {"sms": sms, "markdown": markdown, "plain": plain}


def render(facts: PageFacts, style: str) -> tuple[str, str]:
    """Return the title and body of a page for a channel style (unknown: plain)."""
    return RENDERERS.get(style, plain)(facts)
