"""What caregivers and family read on the hub's own pages: Simplified Chinese first, English
beside. All in one table, so that a gettext catalogue can take it over whole.
"""

from __future__ import annotations

import html

# key: (Simplified Chinese, English); `{name}` fields are filled by `text(...)`.
TEXTS: dict[str, tuple[str, str]] = {
    "product": ("床位守护", "bedwatch"),
    # Why a link or a login cannot be served.
    "expired": ("此链接已过期。", "This link has expired."),
    "invalid": ("此链接无效或已损坏。", "This link is not valid or was damaged."),
    "not_page_link": ("这是确认链接，不是“我的告警”页面链接。",
                      "This link acknowledges one alert; it is not the link to your page."),
    "not_ack_link": ("这是“我的告警”页面链接，不是确认链接。",
                     "This is the link to your page, not an acknowledge link."),
    "person_gone": ("此链接的人员已不在登记名单中。",
                    "The person of this link is no longer registered."),
    "device_ended": ("此手机上的登录已结束（已撤销或已过期）。",
                     "The login on this phone has ended (revoked or expired)."),
    "no_login": ("此手机尚未登录。请打开您收到的最新告警消息中的链接。",
                 "This phone is not logged in. Open the link in the latest alert message "
                 "you received."),
    "no_alert": ("没有此告警。", "There is no such alert."),
    "not_allowed": ("您无权对此告警执行此操作。", "You may not do this for this alert."),
    # The link-problem page.
    "problem_title": ("无法打开", "Cannot open this page"),
    "alert_state": ("告警 #{id}（{what}）当前状态：{state}",
                    "Alert #{id} ({what}) is now: {state}"),
    "fresh_link_hint": ("点击下面的按钮，我们会把新链接发送到您登记的联系方式。",
                        "Press the button and a fresh link is sent to your registered "
                        "channels."),
    "fresh_link_button": ("给我发送新链接", "Send me a fresh link"),
    "fresh_link_sent": ("如果此链接属于一位登记人员，新的链接已发送到其登记的联系方式。"
                        "请查看您的消息。",
                        "If this link belonged to a registered person, a fresh link is on its "
                        "way to their registered channels. Check your messages."),
    "fresh_link_title": ("新链接", "A fresh link"),
    "fresh_link_message": ("这是您的新链接：{link}", "Here is your fresh link: {link}"),
    # The acknowledge page.
    "ack_button": ("我来处理 — 确认", "I am taking it — acknowledge"),
    "acked": ("已确认。呼叫已停止；请立即前往。",
              "Acknowledged. Paging has stopped; please go now."),
    "already": ("已由 {by} 处理（{state}）。", "Already {state} by {by}."),
    "alert_heading": ("告警 #{id}，状态：{state}", "Alert #{id}, state: {state}"),
    # Keeping a login on the phone.
    "keep_login": ("在此手机上保持登录", "Keep me logged in on this phone"),
    "keep_login_hint": ("保持登录后，链接过期也能打开您的页面。管理员可随时结束此登录。",
                        "Your page then opens after the links expire. An administrator can "
                        "end this login at any time."),
    "forget_phone": ("退出此手机", "Log out of this phone"),
    "logged_out": ("此手机已退出登录。", "This phone is logged out."),
    # The login page.
    "login_title": ("登录", "Log in"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_button": ("登录", "Log in"),
    "login_failed": ("用户名或密码错误。", "Wrong user name or password."),
    "login_limited": ("尝试次数过多，请 {s} 秒后再试。", "Too many attempts; try again in {s} s."),
    "login_not_caregiver": ("此页面供护理人员和家属使用。",
                            "This page is for caregivers and family."),
    "must_change": ("请先通过 API 修改一次性密码。",
                    "Change your one-time password first (through the API)."),
    # Alert states.
    "state_open": ("待处理", "open"),
    "state_acknowledged": ("已确认", "acknowledged"),
    "state_on_site": ("已到场", "on site"),
    "state_resolved": ("已关闭", "resolved"),
}


def text(key: str, **fields: object) -> tuple[str, str]:
    """Return the Chinese and English text of `key`, with its fields filled."""
    zh, en = TEXTS[key]
    return zh.format(**fields), en.format(**fields)


def both(key: str, **fields: object) -> str:
    """Return `key` as HTML: the Chinese text, then the English one beside it (escaped)."""
    zh, en = text(key, **{k: html.escape(str(v)) for k, v in fields.items()})
    return f'<span lang="zh-CN">{zh}</span> <span lang="en" class="en">{en}</span>'


def plain(key: str, **fields: object) -> str:
    """Return `key` as plain text for messages: Chinese, then English."""
    zh, en = text(key, **fields)
    return f"{zh}\n{en}"


def state_text(state: str) -> str:
    """Return an alert state as HTML in both languages."""
    key = f"state_{state}"
    return both(key) if key in TEXTS else html.escape(state)
