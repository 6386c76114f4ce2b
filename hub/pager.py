"""The hub's one notification seam: apprise URLs (SMS gateways, e-mail, WeCom, DingTalk,
Feishu, ntfy, webhooks…), one delivery attempt at a time, with the reason when it fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import apprise

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    channel: str  # the URL with secrets masked, safe to store and show
    error: str | None = None


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
        try:
            ok = await sender.async_notify(body=body, title=title,
                                           notify_type=apprise.NotifyType.FAILURE)
        except Exception as exc:  # a plugin bug must not stop the paging of others
            log.exception("apprise raised for %s", channel)
            return DeliveryResult(False, channel, f"{type(exc).__name__}: {exc}")
        return DeliveryResult(bool(ok), channel, None if ok else "the service refused or was "
                              "unreachable")
