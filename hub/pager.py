"""The hub's one notification seam: apprise URLs (SMS gateways, e-mail, WeCom, DingTalk,
Feishu, ntfy, webhooks…), one delivery attempt at a time, with the reason when it fails.

Each channel gets the page text it can show (`channel_style`): SMS gateways a short text
whose first line fits one segment; DingTalk and Feishu markdown (their apprise plugins send
it as a markdown message and an interactive card); every other channel plain text. WeCom
bots (`wecombot://`) get plain text: apprise's WeCom bot plugin sends text messages only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

import apprise

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    channel: str  # the URL with secrets masked, safe to store and show
    error: str | None = None


ChannelStyle = Literal["sms", "markdown", "plain"]

# Apprise schemes of SMS gateways (apprise 2.x plugins): pages there are kept short.
SMS_SCHEMES = frozenset({
    "smseagle", "smseagles", "twilio", "clicksend", "sns", "d7sms", "msg91", "plivo", "sinch",
    "vonage", "nexmo", "bulksms", "bulkvs", "burstsms", "kudosity", "clickatell", "atalk",
    "46elks", "elks", "httpsms", "seven", "smsmgr", "smsmanager", "serwersms", "smsc",
    "voipms", "smstunnel", "kavenegar"})
# Apprise plugins that render markdown when asked (`body_format=markdown`).
MARKDOWN_SCHEMES = frozenset({"dingtalk", "feishu"})


def scheme(url: str) -> str:
    """Return the scheme of a channel URL, lower case ("" when it has none): safe to log."""
    name, sep, _ = url.partition("://")
    return name.lower() if sep and name.replace("+", "").isalnum() and len(name) <= 16 else ""


def channel_style(url: str) -> ChannelStyle:
    """Return the page text a channel gets: `sms`, `markdown` or `plain`."""
    name = scheme(url)
    if name in SMS_SCHEMES:
        return "sms"
    return "markdown" if name in MARKDOWN_SCHEMES else "plain"


def redact(url: str) -> str:
    """Return the URL with passwords and tokens masked, for logs and the audit."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        # Nothing of an unparsable URL is shown: it may be a password without a scheme.
        scheme, sep, _ = url.partition("://")
        return f"{scheme[:16]}://(invalid)" if sep and scheme.isalnum() else "(invalid URL)"
    return str(plugin.url(privacy=True))


class Notifier(Protocol):
    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult: ...


class ApprisePager:
    """Deliver through apprise."""

    def __init__(self) -> None:
        # apprise loads its plugins on first use (~200 ms here): pay that at start-up,
        # not on the first caregiver's page.
        apprise.Apprise.instantiate("json://localhost")

    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        channel = redact(url)
        sender = apprise.Apprise()
        if not sender.add(url):
            return DeliveryResult(False, channel, "not a valid apprise URL")
        body_format = apprise.NotifyFormat.MARKDOWN if channel_style(url) == "markdown" \
            else apprise.NotifyFormat.TEXT
        try:
            ok = await sender.async_notify(body=body, title=title,
                                           notify_type=apprise.NotifyType.FAILURE,
                                           body_format=body_format)
        except Exception as exc:  # a plugin bug must not stop the paging of others
            log.exception("apprise raised for %s", channel)
            return DeliveryResult(False, channel, f"{type(exc).__name__}: {exc}")
        return DeliveryResult(bool(ok), channel, None if ok else "the service refused or was "
                              "unreachable")
