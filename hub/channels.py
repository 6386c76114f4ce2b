"""Whether a person's `notify` URL can deliver: the one place that decides it, by asking
apprise to build its notifier (nothing is sent), and how such a URL is shown in an error.

The registry refuses a URL that fails here (`hub.registry.models`, `hub.registry_file`),
and `bedwatch hub check` lists the ones already stored (`hub.checks`).
"""

from __future__ import annotations

import contextvars
import difflib
import logging
import re
from collections.abc import Iterable, Sequence
from functools import cache

import apprise
from pydantic_core import PydanticCustomError

# The registry bounds a channel URL at this many characters; parsing stays quick below it.
MAX_URL_LENGTH = 1000
# The forms of the channels used in China, shown when a URL of that kind (or a near miss)
# cannot deliver.
_BOT = "a WeCom group bot is wecombot://<webhook key>"
_DING = "a DingTalk robot is dingtalk://<access token>/ or dingtalk://<secret>@<access token>/"
_SMS = ("an SMS gateway is smseagles://<token>@<gateway host>/<phone> or a web hook of the "
        "operator's gateway, jsons://<host>/<path>")
_HOOK = "a web hook is jsons://<host>/<path> (json:// without TLS)"
_NTFY = "ntfy is ntfys://<host>/<topic> (a server of your own) or ntfy://<topic> (ntfy.sh)"
HINTS = {
    "wecom": _BOT, "wecombot": _BOT, "wechat": _BOT, "weixin": _BOT, "wework": _BOT,
    "ding": _DING, "dingding": _DING, "dingtalk": _DING,
    "feishu": "a Feishu bot is feishu://<webhook token>",
    "sms": _SMS, "smseagle": _SMS, "smseagles": _SMS,
    "http": _HOOK, "https": _HOOK, "json": _HOOK, "jsons": _HOOK,
    "ntfy": _NTFY, "ntfys": _NTFY,
}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}")
_HOSTNAME = re.compile(r"(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|\[[0-9A-Fa-f:.]+\])"
                       r"(:\d{1,5})?")
_quiet = contextvars.ContextVar("quiet", default=False)


class _Quiet(logging.Filter):
    """Drop apprise's own log lines while a URL is only checked: they echo it unmasked."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _quiet.get()


logging.getLogger("apprise").addFilter(_Quiet())


@cache
def _schemes() -> dict[str, tuple[str, bool]]:
    """Return every scheme apprise knows: its service, and whether it can run on this hub."""
    known: dict[str, tuple[str, bool]] = {}
    for plugin in apprise.Apprise().details(show_disabled=True)["schemas"]:
        for key in ("protocols", "secure_protocols"):
            value = plugin.get(key) or ()
            for scheme in [value] if isinstance(value, str) else value:
                known[scheme.lower()] = (str(plugin["service_name"]),
                                         bool(plugin.get("enabled", True)))
    return known


def check_channel(url: object) -> str | None:
    """Return None when apprise can build a notifier from `url`, else why not, in plain words.

    Nothing is sent and nothing is looked up on the network; this never raises.
    """
    try:
        return _problem(url)
    except Exception as exc:  # a plugin's parser must not take the registry down with it
        return f"apprise could not read it ({type(exc).__name__})"


def _problem(url: object) -> str | None:
    if not isinstance(url, str):
        return "not text"
    if not url.strip():
        return "empty"
    if len(url) > MAX_URL_LENGTH:
        return f"longer than {MAX_URL_LENGTH} characters"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "holds spaces, control or unreadable characters (one URL per entry)"
    scheme, sep, _ = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return "not a URL: expected <type>://..., e.g. wecombot://<webhook key>"
    scheme = scheme.lower()
    known = _schemes()
    if scheme not in known:
        return f"unknown channel type '{scheme}://'{_hint(scheme, known)}"
    service, runs_here = known[scheme]
    if not runs_here:
        return f"channel type '{scheme}://' ({service}) cannot run on this hub"
    token = _quiet.set(True)
    try:
        sender = apprise.Apprise()
        added = sender.add(url)
    finally:
        _quiet.reset(token)
    if len(sender) > 1:
        return "holds more than one URL (give each its own entry)"
    if not added or len(sender) != 1:
        return (f"not a valid URL for {service} (where '{scheme}://' goes): a key, token, host "
                f"or other part is missing or malformed{_hint(scheme)}")
    if scheme in ("ntfy", "ntfys") and not getattr(sender[0], "topics", True):
        return f"names no topic to publish to; {_NTFY}"
    return None


def _hint(scheme: str, known: dict[str, tuple[str, bool]] | None = None) -> str:
    """Return the form a channel of this kind takes; for an unknown kind, a near miss."""
    if scheme in HINTS:
        return f"; {HINTS[scheme]}"
    if known is None:
        return ""
    close = difflib.get_close_matches(scheme, [k for k in known if k != scheme], n=1,
                                      cutoff=0.8)
    return f"; did you mean '{close[0]}://'?" if close else ""


def mask(url: object) -> str:
    """Return `url` safe to show in an error or a log: its type and host, the rest elided.

    A host that is not a host name (a bot key, a topic) is elided too, and so are a user
    name and password, the path and the query: any of them may be a token.
    """
    if not isinstance(url, str):
        return "(not text)"
    scheme, sep, rest = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return "(not a URL)"
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    scheme = scheme.lower()
    if not rest:
        return f"{scheme}://"
    if not _HOSTNAME.fullmatch(host):
        return f"{scheme}://..."
    return f"{scheme}://{host}" + ("/..." if rest != host else "")


def channel_problems(urls: Iterable[str]) -> list[tuple[int, str, str]]:
    """Return (index, masked URL, reason) of each URL in `urls` that cannot deliver."""
    problems = []
    for i, url in enumerate(urls):
        reason = check_channel(url)
        if reason is not None:
            problems.append((i, mask(url), reason))
    return problems


def describe(who: str, problems: Sequence[tuple[int, str, str]], field: str = "notify") -> str:
    """Return one message naming the person and each URL that cannot deliver, masked."""
    return f"{who}: " + "; ".join(f"{field}[{i}] '{shown}' cannot deliver: {reason}"
                                  for i, shown, reason in problems)


def person_label(person_id: str | None, name: str | None) -> str:
    """Return how an error names a person: `person 'cg-zhang' (Zhang Min)`."""
    label = f"person {person_id!r}" if person_id else "person"
    return f"{label} ({name})" if name else label


def require_channels(urls: Sequence[str], who: str, field: str = "notify") -> list[str]:
    """Return `urls` when every one can deliver; else raise a validation error naming `who`
    and each URL that cannot (masked), for a pydantic validator."""
    problems = channel_problems(urls)
    if problems:
        raise PydanticCustomError("channel_cannot_deliver", "{reason}",
                                  {"reason": describe(who, problems, field)})
    return list(urls)
