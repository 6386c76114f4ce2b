"""The hub's small HTML pages: the acknowledge page, the link-problem page and the login page,
and the caregiver's phone page with its texts.

The small pages are plain server-rendered HTML without script, in the reader's language with
the other beside it; every text comes from the `web` catalogue (`hub.web.texts`).
"""

from __future__ import annotations

import html
import json
from importlib import resources

from fastapi.responses import HTMLResponse

from bedwatch.i18n import N_, other_language
from bedwatch.kinds import kind_text
from hub.db import Alert
from hub.web.texts import both, both_each, html_lang, reason_html, state_text, translate, web

# Read when the app is built, so that a package without its page fails at start-up.
PHONE_PAGE = resources.files("hub.web").joinpath("caregiver.html").read_text(encoding="utf-8")
# Each language's name in itself, for the switch (never translated).
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}

_LAYOUT = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC","Noto Sans SC",sans-serif;margin:0 auto;
padding:1.2rem;max-width:32rem;font-size:1.15rem;line-height:1.5;overflow-wrap:anywhere;
background:#fff;color:#111}}
.crit{{color:#b00020}} .ok{{color:#1b5e20}} .en{{color:#455a64;display:block;font-size:.85em}}
button,input{{font-size:1.2rem;padding:.8rem 1rem;width:100%;box-sizing:border-box;
margin:.3rem 0;min-height:3.2rem}}
button{{background:#1565c0;color:#fff;border:none;border-radius:.5rem;font-weight:600}}
button .en{{color:#e3f2fd}} button.secondary{{background:#546e7a}}
label{{display:block;margin-top:.6rem}} a{{color:#0d47a1}}
@media (prefers-color-scheme: dark){{body{{background:#111;color:#eee}}
.en{{color:#b0bec5}} .crit{{color:#ff8a80}} .ok{{color:#a5d6a7}} a{{color:#90caf9}}}}</style>
</head><body>
{body}</body></html>"""


def layout(title_msgid: str, body: str, status_code: int = 200,
           lang: str = "zh_CN") -> HTMLResponse:
    """Return a page in the reader's language with `body` (HTML, already escaped)."""
    title = f"{translate(title_msgid, lang)} / {translate(title_msgid, other_language(lang))}"
    page = _LAYOUT.format(lang=html_lang(lang), title=html.escape(title), body=body)
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})


def alert_line(alert: Alert, lang: str) -> str:
    """Return what an expired link may still say of its alert: kind and current state."""
    line = both_each(N_("Alert #{id} ({what}) is now:"), lang,
                     lambda each: {"id": alert.id, "what": kind_text(alert.kind, each)})
    return f'{line} <b data-testid="state">{state_text(alert.state, lang)}</b>'


def problem_page(reason: str, status_code: int, *, lang: str = "zh_CN",
                 token: str | None = None, alert: Alert | None = None,
                 renew: bool = True) -> HTMLResponse:
    """Return the page shown for a link or login that cannot be served.

    With `renew`, a button asks for a fresh link (for `token`, or for this phone's login);
    without it, the reader is told whom to ask.
    """
    heading = both("Cannot open this page", lang)
    parts = [f'<h1 class="crit">{heading}</h1>',
             f'<p data-testid="reason">{reason_html(reason, lang)}</p>']
    if alert is not None:
        parts.append(f'<p data-testid="alert-state">{alert_line(alert, lang)}</p>')
    if reason in ("no_login", "device_ended"):  # people with an account log in themselves
        login = both("Log in", lang)
        parts.append(f'<p><a href="/c/login">{login}</a></p>')
    if renew:
        hidden = (f'<input type="hidden" name="token" value="{html.escape(token)}">'
                  if token else "")
        hint = both("Press the button and a fresh link is sent to your registered phone "
                    "and channels.", lang)
        button = both("Send me a fresh link", lang)
        parts.append(f'<p>{hint}</p><form method="post" action="/link/renew">{hidden}'
                     f'<button type="submit" data-testid="renew">{button}</button></form>')
    else:
        ask = both("If you still need this page, call your station.", lang)
        parts.append(f"<p>{ask}</p>")
    return layout("Cannot open this page", "\n".join(parts), status_code, lang)


def renewed_page(lang: str = "zh_CN") -> HTMLResponse:
    """Return the one answer to a fresh-link request, whatever happened to it."""
    sent = both("If this link belonged to a registered person, a fresh link is on its way to "
                "their registered phone and channels. Check your messages.", lang)
    return layout(N_("A fresh link"), f'<p class="ok">{sent}</p>', lang=lang)


def ack_page(alert: Alert, resident: str, address: str, body: str,
             lang: str = "zh_CN") -> HTMLResponse:
    """Return the acknowledge page of an alert with `body` (a form or an outcome) below."""
    what = (f'{html.escape(kind_text(alert.kind, lang))} / '
            f'{html.escape(kind_text(alert.kind, other_language(lang)))}')
    heading = both("Alert #{id}, state:", lang, id=alert.id)
    page = (f'<h1 class="crit">{what}</h1><p><b>{html.escape(resident)}</b><br>'
            f'{html.escape(address)}</p>'
            f'<p>{heading} <b data-testid="state">{state_text(alert.state, lang)}</b></p>'
            f'{body}')
    return layout(N_("bedwatch"), page, lang=lang)


def login_page(message: str = "", status_code: int = 200,
               lang: str = "zh_CN") -> HTMLResponse:
    """Return the login form of the caregiver's phone (`message`: HTML, already escaped)."""
    title, user, password = both("Log in", lang), both("User name", lang), \
        both("Password", lang)
    form = (f'<h1>{title}</h1>{message}<form method="post" action="/c/login">'
            f'<label>{user}<input name="username" autocomplete="username" required></label>'
            f'<label>{password}<input name="password" type="password" '
            'autocomplete="current-password" required></label>'
            f'<button type="submit">{title}</button></form>')
    return layout("Log in", form, status_code, lang)


def phone_texts(lang: str) -> dict[str, str]:
    """Return every text the phone page's script shows, in `lang` (fields as `{name}`)."""
    _ = web(lang)

    return {
        "title": _("My alerts"), "for": _("Alerts for {name}"),
        "connecting": _("connecting…"), "live": _("live"),
        "reconnecting": _("offline: your actions are kept and sent when the network is back"),
        "loading": _("Loading…"), "empty": _("No open alerts."),
        "ack": _("I am taking it — acknowledge"), "on_site": _("I am on site"),
        "resolve": _("Close the alert…"), "close": _("Close alert"),
        "found": _("What was found"), "real": _("Real: help was needed"),
        "false_alarm": _("False alarm"), "test": _("Test"),
        "resolved_remotely": _("Resolved remotely"), "note": _("Note (what you found)"),
        "queued": _("Queued: sent as soon as the network is back"),
        "sending": _("Sending…"), "sent": _("Sent at {time}"),
        "failed": _("Not done: {reason}"),
        "taken_by": _("Taken by {name} at {time}"), "taken_by_you": _("You took it at {time}"),
        "on_site_by": _("{name} on site at {time}"), "since": _("Since {time} ({age})"),
        "others": _("Also paged: {names}"), "nobody_else": _("Nobody else was paged yet"),
        "who": _("Who"), "where": _("Where"), "calls": _("Call"),
        "vitals": _("Last vital signs"), "heart_rate": _("Heart rate"),
        "breathing_rate": _("Breathing"), "blood_pressure": _("Blood pressure"),
        "no_value": "—", "per_min": _("/min"), "conditions": _("Conditions"),
        "allergies": _("Allergies"), "notes": _("Medical notes"), "door": _("Door"),
        "key": _("Key"), "map": _("Open the map"), "left": _("{time} left"),
        "overdue": _("{time} overdue"), "keep": _("Keep me logged in on this phone"),
        "forget": _("Log out of this phone"),
    }


def phone_page(lang: str, zone: str = "Asia/Shanghai") -> HTMLResponse:
    """Return the caregiver's phone page in `lang`, its script's texts rendered into it."""
    other = other_language(lang)
    texts = phone_texts(lang)
    config = {"lang": html_lang(lang), "zone": zone, "texts": texts,
              "switch": {"lang": other, "label": LANGUAGE_NAMES[other]}}
    # Inside <script>, "<" is written as \u003c so no text can end the element early.
    blob = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    page = (PHONE_PAGE.replace("__HTML_LANG__", html_lang(lang))
            .replace("__TITLE__", html.escape(texts["title"]))
            .replace("__CONFIG__", blob))
    return HTMLResponse(page, headers={"Cache-Control": "no-store",
                                       "Content-Language": html_lang(lang)})
