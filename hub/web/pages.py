"""The hub's small HTML pages: the acknowledge page, the link-problem page and the login page.

Plain server-rendered HTML, no script; every text comes from `hub.web.texts`, Chinese first.
"""

from __future__ import annotations

import html

from fastapi.responses import HTMLResponse

from bedwatch.kinds import kind_text
from hub.db import Alert
from hub.web.texts import both, state_text, text

_LAYOUT = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:1.2rem;max-width:32rem}}
.crit{{color:#b00020}} .ok{{color:#1b5e20}} .en{{color:#455a64;display:block;font-size:.92em}}
button,input{{font-size:1.2rem;padding:.7rem 1rem;width:100%;box-sizing:border-box;
margin:.3rem 0}} button{{background:#1565c0;color:#fff;border:none;border-radius:.4rem}}
button .en{{color:#e3f2fd}} button.secondary{{background:#546e7a}}
label{{display:block;margin-top:.6rem}}</style>
</head><body>
{body}</body></html>"""


def layout(title_key: str, body: str, status_code: int = 200) -> HTMLResponse:
    """Return a page in the caregiver's language with `body` (HTML, already escaped)."""
    zh, en = text(title_key)
    page = _LAYOUT.format(title=html.escape(f"{zh} / {en}"), body=body)
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})


def alert_line(alert: Alert) -> str:
    """Return what an expired link may still say of its alert: kind and current state."""
    zh, en = kind_text(alert.kind, "zh"), kind_text(alert.kind, "en")
    return both("alert_state", id=alert.id, what=f"{zh} / {en}", state="") + \
        f" <b>{state_text(alert.state)}</b>"


def problem_page(reason: str, status_code: int, *, token: str | None = None,
                 alert: Alert | None = None, renew: bool = True) -> HTMLResponse:
    """Return the page shown for a link or login that cannot be served.

    With `renew`, a button asks for a fresh link (for `token`, or for this phone's login).
    """
    parts = [f'<h1 class="crit">{both("problem_title")}</h1>', f"<p>{both(reason)}</p>"]
    if alert is not None:
        parts.append(f'<p data-testid="alert-state">{alert_line(alert)}</p>')
    if reason in ("no_login", "device_ended"):  # people with an account log in themselves
        parts.append(f'<p><a href="/c/login">{both("login_title")}</a></p>')
    if renew:
        hidden = (f'<input type="hidden" name="token" value="{html.escape(token)}">'
                  if token else "")
        parts.append(f'<p>{both("fresh_link_hint")}</p><form method="post" '
                     f'action="/link/renew">{hidden}<button type="submit">'
                     f'{both("fresh_link_button")}</button></form>')
    return layout("problem_title", "\n".join(parts), status_code)


def renewed_page() -> HTMLResponse:
    """Return the one answer to a fresh-link request, whatever happened to it."""
    return layout("fresh_link_title", f'<p class="ok">{both("fresh_link_sent")}</p>')


def ack_page(alert: Alert, resident: str, address: str, body: str) -> HTMLResponse:
    """Return the acknowledge page of an alert with `body` (a form or an outcome) below."""
    what = (f'{html.escape(kind_text(alert.kind, "zh"))} / '
            f'{html.escape(kind_text(alert.kind, "en"))}')
    page = (f'<h1 class="crit">{what}</h1><p><b>{html.escape(alert.home)}</b> — '
            f'{html.escape(resident)}<br>{html.escape(address)}</p>'
            f'<p>{both("alert_heading", id=alert.id, state="")} '
            f'<b data-testid="state">{state_text(alert.state)}</b></p>{body}')
    return layout("product", page)


def login_page(message: str = "", status_code: int = 200) -> HTMLResponse:
    """Return the login form of the caregiver's phone (`message`: HTML, already escaped)."""
    form = (f'<h1>{both("login_title")}</h1>{message}'
            '<form method="post" action="/c/login">'
            f'<label>{both("username")}<input name="username" autocomplete="username" '
            'required></label>'
            f'<label>{both("password")}<input name="password" type="password" '
            'autocomplete="current-password" required></label>'
            f'<button type="submit">{both("login_button")}</button></form>')
    return layout("login_title", form, status_code)
