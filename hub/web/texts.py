"""What caregivers and family read on the hub's own pages, from the `web` gettext catalogue.

Msgids are the English text (`bedwatch/locale/<lang>/LC_MESSAGES/web.po`). The small pages
show the reader's language first and the other beside it, so a phone handed to a colleague
still reads; the caregiver's page shows one language with a switch to the other.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

from fastapi import Request
from sqlalchemy.orm import Session

from bedwatch.i18n import N_, normalise, other_language, pick_language, translator
from hub.db import Caregiver, Organisation, Site

DOMAIN = "web"
# The language a reader chose with the page's switch; it outranks every other hint.
LANG_COOKIE = "bw_lang"

# Why a link or a login cannot be served (`LinkProblem.reason`), in words.
REASONS: dict[str, str] = {
    "expired": N_("This link has expired."),
    "invalid": N_("This link is not valid or was damaged."),
    "not_page_link": N_("This link acknowledges one alert; it is not the link to your page."),
    "not_ack_link": N_("This is the link to your page, not an acknowledge link."),
    "person_gone": N_("The person of this link is no longer registered."),
    "device_ended": N_("The login on this phone has ended (revoked or expired)."),
    "no_login": N_("This phone is not logged in. Open the link in the latest alert message "
                   "you received."),
    "no_alert": N_("There is no such alert."),
    "not_allowed": N_("You may not do this for this alert."),
}

STATES: dict[str, str] = {
    "open": N_("open"),
    "acknowledged": N_("acknowledged"),
    "on_site": N_("on site"),
    "resolved": N_("resolved"),
}


def translate(msgid: str, lang: str, **fields: object) -> str:
    """Return `msgid` in `lang` with its fields filled."""
    text = translator(lang, DOMAIN).gettext(msgid)
    return text.format(**fields) if fields else text


def web(lang: str) -> Callable[..., str]:
    """Return `_` for `lang`: `_("Heart rate {bpm}", bpm=132)` is the text in `lang`, filled.

    Written as `_ = web(lang)` so that extraction finds every `_("...")` of the module.
    """
    def _(msgid: str, **fields: object) -> str:
        return translate(msgid, lang, **fields)

    return _


def html_lang(lang: str) -> str:
    """Return the BCP 47 tag of a language for `<html lang>`: zh-CN or en."""
    return "zh-CN" if (normalise(lang) or "zh_CN") == "zh_CN" else "en"


def both(msgid: str, lang: str = "zh_CN", **fields: object) -> str:
    """Return a text as HTML: in the reader's language, then (smaller) in the other one.

    Fields are escaped; the texts themselves come from the catalogue.
    """
    return both_each(msgid, lang, lambda _: fields)


def both_each(msgid: str, lang: str,
              fields: Callable[[str], Mapping[str, object]]) -> str:
    """Return a text as HTML in both languages, its fields given per language by `fields`."""
    first, second = lang, other_language(lang)
    one = translate(msgid, first, **{k: html.escape(str(v)) for k, v in fields(first).items()})
    two = translate(msgid, second,
                    **{k: html.escape(str(v)) for k, v in fields(second).items()})
    if one == two:
        return f'<span lang="{html_lang(first)}">{one}</span>'
    return (f'<span lang="{html_lang(first)}">{one}</span> '
            f'<span lang="{html_lang(second)}" class="en">{two}</span>')


def plain(msgid: str, lang: str = "zh_CN", **fields: object) -> str:
    """Return a text for a message: the reader's language, then the other on its own line."""
    one = translate(msgid, lang, **fields)
    two = translate(msgid, other_language(lang), **fields)
    return one if one == two else f"{one}\n{two}"


def reason_html(reason: str, lang: str) -> str:
    """Return why a link cannot be served, as HTML in both languages."""
    msgid = REASONS.get(reason)
    return both(msgid, lang) if msgid else html.escape(reason)


def state_word(state: str, lang: str) -> str:
    """Return an alert state in one language (plain text)."""
    msgid = STATES.get(state)
    return translate(msgid, lang) if msgid else state


def state_text(state: str, lang: str = "zh_CN") -> str:
    """Return an alert state as HTML in both languages."""
    msgid = STATES.get(state)
    return both(msgid, lang) if msgid else html.escape(state)


def organisation_language(person: Caregiver | None, session: Session | None) -> str | None:
    """Return the language of the organisation that runs the person's site, if known."""
    if person is None or session is None:
        return None
    site = session.get(Site, person.site_id)
    organisation = session.get(Organisation, site.organisation_id) \
        if site is not None and site.organisation_id else None
    return organisation.language if organisation is not None else None


def page_language(request: Request, person: Caregiver | None = None,
                  session: Session | None = None) -> str:
    """Return the language of a page: the reader's own choice (the switch), the person's
    registered language, the browser's, their organisation's, else Simplified Chinese.

    The browser comes before the organisation because every organisation has a language
    (zh-CN unless changed), which would otherwise hide a reader's own phone setting.
    """
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return pick_language(normalise(chosen), person.language if person is not None else None,
                         request.headers.get("accept-language"),
                         organisation_language(person, session))
