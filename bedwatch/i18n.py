"""What people read, in their language: gettext catalogues, local times and ages.

Caregivers, families and the monitoring desk read Simplified Chinese first, English beside
it. Texts live in gettext catalogues, `bedwatch/locale/<lang>/LC_MESSAGES/<domain>.po`, read
at run time with Babel (no compiled `.mo` files to forget): msgids are the English text, with
`{name}` fields filled by `str.format` after translation.

Domains, by where the text is written (the translation test extracts them this way):

| domain | source | what |
|---|---|---|
| `web` | `hub/web/` | the hub's HTML pages and the caregiver's phone page |
| `desk` | `dashboards/` | Grafana dashboard titles |
| `bedwatch` | everything else | pages, kinds of alert, the CLI, the demo |

Mark a text where it is written: `_ = translator(lang).gettext; _("Fall detected")`, or
`both("...")`, or `N_("...")` in a table whose rows are translated later; extraction
(`KEYWORDS`) finds them all. A msgid missing from a catalogue reads as the English msgid;
the translation test keeps that from shipping.
"""

from __future__ import annotations

import gettext
import io
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "zh_CN"
LANGUAGES = ("zh_CN", "en")  # the order texts are shown in when both are
DEFAULT_ZONE = "Asia/Shanghai"
LOCALE_DIR = Path(__file__).parent / "locale"
# Extraction keywords: Babel's defaults (`_`, `gettext`, `ngettext`, `N_`, …) and ours.
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "both": None, "pair": None,
}
DOMAINS = ("bedwatch", "web", "desk")


def N_(msgid: str) -> str:
    """Mark a text for extraction where it is defined; it is translated where it is read."""
    return msgid


def normalise(tag: str | None) -> str | None:
    """Return the supported language of a tag ("zh-CN", "zh_Hans", "en-US"…), or None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    if primary == "zh":
        return "zh_CN"  # a reader of Traditional Chinese reads Simplified better than English
    if primary == "en":
        return "en"
    return None


def is_supported(tag: str | None) -> bool:
    """Return True when a language tag names a supported language."""
    return normalise(tag) is not None


def language_tag(value: str) -> str:
    """Return a supported language as catalogues name it ("zh-CN" → "zh_CN"); else ValueError.

    For the registry's validators: a person set to a language nobody translated would get
    pages in a language they did not choose, so it is refused where it is entered.
    """
    language = normalise(value)
    if language is None:
        raise ValueError(f"unsupported language {value!r} (expected one of "
                         f"{', '.join(LANGUAGES)})")
    return language


def _accept_language(value: str) -> list[str]:
    """Return the tags of an Accept-Language value (RFC 9110 §12.5.4), best first."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(value.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, number = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(number)
                except ValueError:
                    weight = 0.0
        if tag.strip() and weight > 0:
            ranked.append((-weight, index, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def pick_language(*candidates: str | None) -> str:
    """Return the first supported language of the candidates, in order; else zh_CN.

    A candidate is a language tag (a person's, an organisation's) or a whole Accept-Language
    header; empty and unsupported ones are passed over.
    """
    for candidate in candidates:
        if not candidate:
            continue
        for tag in _accept_language(candidate):
            language = normalise(tag)
            if language:
                return language
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    """The texts of one domain in one language."""

    language: str
    domain: str
    catalogue: gettext.NullTranslations

    def gettext(self, msgid: str) -> str:
        """Return the translation of `msgid` (the msgid itself when it has none)."""
        return self.catalogue.gettext(msgid) if msgid else ""

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Return the translation of the form of a text for the count `n`."""
        return self.catalogue.ngettext(singular, plural, n)


def catalogue_path(language: str, domain: str) -> Path:
    """Return where the catalogue of a domain in a language is kept."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"


@cache
def _load(language: str, domain: str) -> Translator:
    path = catalogue_path(language, domain)
    if not path.exists():
        log.warning("no %s catalogue for %s: texts read as their English msgids",
                    domain, language)
        return Translator(language, domain, gettext.NullTranslations())
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # gettext's own lookup and plural rules, from the .po text
    compiled.seek(0)
    return Translator(language, domain, gettext.GNUTranslations(compiled))


def translator(lang: str | None, domain: str = "bedwatch") -> Translator:
    """Return the texts of `domain` in `lang` (an unknown or missing language: zh_CN)."""
    return _load(normalise(lang) or DEFAULT_LANGUAGE, domain)


def pair(msgid: str, domain: str = "bedwatch", **fields: object) -> tuple[str, str]:
    """Return a text in Chinese and in English, with its fields filled.

    A field that is itself a text in each language is given as a callable of the language
    (`what=lambda lang: kind_text(kind, lang)`).
    """
    def filled(lang: str) -> str:
        values = {k: v(lang) if callable(v) else v for k, v in fields.items()}
        return translator(lang, domain).gettext(msgid).format(**values)

    return filled("zh_CN"), filled("en")


def both(msgid: str, domain: str = "bedwatch", **fields: object) -> str:
    """Return a text as "中文 / English" (once, when both read the same)."""
    zh, en = pair(msgid, domain, **fields)
    return zh if zh == en else f"{zh} / {en}"


def other_language(lang: str | None) -> str:
    """Return the language shown beside `lang`: English beside Chinese, and back."""
    return "en" if (normalise(lang) or DEFAULT_LANGUAGE) == "zh_CN" else "zh_CN"


def zone_info(zone: str | None) -> ZoneInfo:
    """Return a time zone by name; an unknown or missing one is Asia/Shanghai."""
    try:
        return ZoneInfo(zone or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def _as_datetime(t: float | datetime) -> datetime:
    if isinstance(t, datetime):
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    return datetime.fromtimestamp(t, UTC)


def local_time(t: float | datetime, *, now: float | datetime, lang: str | None,
               zone: str | None = DEFAULT_ZONE, seconds: bool = False) -> str:
    """Return a moment as a caregiver reads it: 24-hour local time, the date when not today.

    "09:05" today, "昨天 23:50" / "yesterday 23:50", "11月27日 09:05" / "Nov 27 09:05"
    this year, with the year before that.
    """
    tz = zone_info(zone)
    moment = _as_datetime(t).astimezone(tz)
    today: date = _as_datetime(now).astimezone(tz).date()
    clock = moment.strftime("%H:%M:%S" if seconds else "%H:%M")
    if moment.date() == today:
        return clock
    texts = translator(lang)
    if moment.date() == today - timedelta(days=1):
        return texts.gettext("yesterday {time}").format(time=clock)
    skeleton = "MMMd" if moment.year == today.year else "yMMMd"
    day = format_skeleton(skeleton, moment, locale=texts.language)
    return texts.gettext("{date} {time}").format(date=day, time=clock)


def duration(seconds: float, lang: str | None) -> str:
    """Return a span of time in words: "45 秒", "4 分钟", "2 小时 5 分钟" / "4 min"…"""
    texts = translator(lang)
    s = max(0, int(seconds))
    if s < 60:
        return texts.gettext("{n} s").format(n=s)
    if s < 3600:
        return texts.gettext("{n} min").format(n=s // 60)
    hours, minutes = divmod(s // 60, 60)
    if minutes == 0:
        return texts.ngettext("{n} hour", "{n} hours", hours).format(n=hours)
    return texts.gettext("{h} h {m} min").format(h=hours, m=minutes)


def age(seconds: float, lang: str | None) -> str:
    """Return how long ago something was: "3 分钟前" / "3 min ago"."""
    texts = translator(lang)
    s = max(0, int(seconds))
    if s < 60:
        return texts.gettext("{n} s ago").format(n=s)
    if s < 3600:
        return texts.gettext("{n} min ago").format(n=s // 60)
    if s < 86400:
        hours = s // 3600
        return texts.ngettext("{n} hour ago", "{n} hours ago", hours).format(n=hours)
    days = s // 86400
    return texts.ngettext("{n} day ago", "{n} days ago", days).format(n=days)
