"""`bedwatch demo`: a care organisation on one machine, shown live, in Chinese and English.

Starts real Mosquitto and InfluxDB servers, the hub and a few simulated homes (simulated
devices on pseudo-terminals, each home with its own edge agent process). A resident presses
the call button only once the hub has seen that home's agent online, so no press is lost to a
home that has not connected yet. The demo prints each alert as the hub raises it, each page
the hub sends (delivered through apprise to a local sink) timed against what caused it (the
press, or the escalation step or reminder falling due), and acknowledges through the page's
link as a caregiver would; every third call the on-call caregiver does not answer, to show
the escalation.
"""

from __future__ import annotations

import queue
import re
import signal
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bedwatch.i18n import N_, both, translator
from bedwatch.kinds import kind_text
from hub.alerts.page_text import REASON_TAGS, ROLE_TEXTS, SEVERITY_TAGS
from rig.sink import Notification
from rig.site import CaregiverSpec, LocalSite

ACK_LINK = re.compile(r"https?://\S+/ack/\S+")
ALERT_NUMBER = re.compile(r"#(\d+)\s*$")  # a page's title ends with its alert's number

RESIDENTS = [
    ("王桂荣 Wang Guirong", "青山路 12 号 3 单元 Qingshan Road 12, Unit 3", "site-town"),
    ("李建国 Li Jianguo", "新华巷 5 号 2 栋 Xinhua Lane 5, Building 2", "site-town"),
    ("赵淑芬 Zhao Shufen", "上坪村 17 号 Shangping Village, House 17", "site-village"),
    ("陈玉兰 Chen Yulan", "河西街 88 号 Hexi Street 88", "site-town"),
    ("刘德志 Liu Dezhi", "东头村 4 号 Dongtou Village, House 4", "site-village"),
]
CAREGIVERS = [
    CaregiverSpec("cg-zhang", "张敏 Zhang Min", "site-town", []),
    CaregiverSpec("cg-li", "李娜 Li Na", "site-town", [], role="backup"),
    CaregiverSpec("cg-wu", "吴强 Wu Qiang", "site-town", [], role="supervisor"),
    CaregiverSpec("cg-huang", "黄丽 Huang Li", "site-village", []),
    CaregiverSpec("cg-zhao", "赵磊 Zhao Lei", "site-village", [], role="backup"),
]
# The demo shortens the escalation chain from minutes to seconds so that it can be watched.
STEPS = {"oncall": 0.0, "backup": 20.0, "supervisor": 40.0, "family": 60.0}
REMINDER_EVERY_S = 15.0
DEMO_ESCALATION = {
    "escalation": [{"role": role, "after_s": after} for role, after in STEPS.items()],
    "reminder_every_s": REMINDER_EVERY_S,
}
SITES = [
    {"id": "site-town", "name": "Qingshan Street care station", "kind": "urban",
     **DEMO_ESCALATION},
    {"id": "site-village", "name": "Shangping township care station", "kind": "rural",
     **DEMO_ESCALATION},
]
ROLES = {c.id: c.role for c in CAREGIVERS}


def page_reason(title: str) -> str:
    """Return why a page was sent (a `Page.reason`), read from the tag its title starts with."""
    if not title.startswith("["):
        return "alert"
    parts = title[1:title.find("]")].split(" · ")
    for reason, msgid in REASON_TAGS.items():
        texts = {translator(lang).gettext(msgid) for lang in ("zh_CN", "en")} if msgid else set()
        if any(part.startswith(text) for part in parts for text in texts):
            return reason
    return "alert"


@dataclass
class Press:
    """A call-button press, and the alert it became."""

    home: str
    at: float  # monotonic
    alert_id: int | None = None


@dataclass
class PageSeen:
    """A page that reached the sink, timed against what caused it."""

    alert_id: int
    to: str
    reason: str
    delay_s: float
    since_press_s: float


@dataclass
class Demo:
    """The demo's run: what it pressed, saw and did (read by its test)."""

    homes: int = 3
    press_every: float = 15.0
    duration: float | None = None
    workdir: Path | None = None
    console: Console = field(default_factory=Console)
    presses: list[Press] = field(default_factory=list)
    pages: list[PageSeen] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    online: dict[str, float] = field(default_factory=dict)  # home → seconds to come online
    _notes: queue.Queue[Notification] = field(default_factory=queue.Queue)

    def say(self, style: str, msgid: str, **fields: Any) -> None:
        """Print one line: the time, then the text in Chinese and in English (`msgid` is
        marked with `N_` where it is written, for the catalogue)."""
        text = escape(both(msgid, **fields))
        self.console.print(f"{datetime.now():%H:%M:%S} " + (f"[{style}]{text}[/]" if style
                                                              else text),
                           soft_wrap=True, highlight=False)

    def run(self) -> int:
        """Run until Ctrl-C, SIGTERM or `duration` seconds of pressing; return the exit code."""
        root = Path(self.workdir) if self.workdir else Path(
            tempfile.mkdtemp(prefix="bedwatch-demo-"))
        root.mkdir(parents=True, exist_ok=True)
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.console.rule("[bold]bedwatch demo 床位守护演示")
        self.say("dim", N_("working folder: {path}"), path=root)
        with LocalSite(root, sites=SITES, caregivers=CAREGIVERS,
                       on_notification=self._notes.put) as site:
            self.say("", N_("Mosquitto on {address} (no anonymous clients: the hub and each home "
                     "have their own broker user), InfluxDB at {url}"),
                     address=f"127.0.0.1:{site.mosquitto.port}", url=site.influxdb.url)
            for i in range(self.homes):
                resident, address, site_id = RESIDENTS[i % len(RESIDENTS)]
                site.add_home(resident=resident, address=address, site=site_id,
                              button=0x1000 + i, bed_seed=i)
            hub = site.start_hub()
            self.say("", N_("hub up: {url} (log: {log})"), url=f"{site.api}/api/alerts",
                     log=hub.log_path)
            username, password = site.admin_credentials()
            self.say("", N_("API login (made for this demo with `bedwatch hub create-admin`): "
                     "{user} / {password} at {url}"), user=username, password=password,
                     url=f"{site.api}/docs")
            # Log the caregivers who will act in now (`bedwatch hub add-user` each): their
            # first action must not wait on it, or the times shown would not be the hub's.
            sites = {spec.site for spec in site.homes}
            for person in CAREGIVERS:
                if person.site in sites and person.role in ("oncall", "backup"):
                    site.login(person.id)
            for spec in site.homes:
                site.start_agent(spec)
                self.say("", N_("{home}: {resident}, {address} (call button on {port})"),
                         home=spec.id, resident=spec.resident, address=spec.address,
                         port=site.buttons[spec.id].path)
            try:
                return self._loop(site, stop)
            except KeyboardInterrupt:
                return 0
            finally:
                self._summary()
                # The site stops the hub first: agents going away on purpose page nobody.
                self.say("dim", N_("stopping the hub, agents and servers…"))

    def _loop(self, site: LocalSite, stop: threading.Event) -> int:
        started = time.monotonic()
        pressing_since: float | None = None
        next_press = 0.0
        seen_alerts: dict[int, str] = {}  # alert id → home
        acks: list[tuple[float, str, int, str]] = []  # (when, link, alert, who)
        followups: list[tuple[float, str, int, str]] = []
        unanswered: set[str] = set()  # homes whose on-call caregiver does not answer
        busy: set[str] = set()  # homes pressed whose call is not resolved yet
        while not stop.is_set():
            now = time.monotonic()
            if pressing_since is not None and self.duration is not None and \
                    now - pressing_since >= self.duration:
                return 0
            for name, agent in site.agents.items():
                if not agent.running:
                    self.say("bold red", N_("{home}: its agent exited"), home=name)
                    self.console.print(escape(agent.log_tail()))
                    return 1
            self._watch_online(site, started)
            if pressing_since is None and self.online:
                pressing_since, next_press = now, now
                self.say("green", N_("running: a call button is pressed every {s} s; Ctrl-C "
                         "stops everything"), s=f"{self.press_every:g}")
            # A home with a call still open is not pressed again: the press would join it.
            online = [h for h in site.homes if h.id in self.online and h.id not in busy]
            if online and now >= next_press:
                spec = online[len(self.presses) % len(online)]
                site.buttons[spec.id].press()
                self.presses.append(Press(spec.id, time.monotonic()))
                busy.add(spec.id)
                if len(self.presses) % 3 == 0:
                    unanswered.add(spec.id)
                self.say("bold yellow", N_("CALL {resident} pressed the call button in {home}"),
                         resident=spec.resident, home=spec.id)
                next_press = now + self.press_every
            for alert in site.get("/api/alerts?state=open"):
                if int(alert["id"]) not in seen_alerts:
                    self._new_alert(alert, seen_alerts)
            for note in self._pending_pages(seen_alerts):
                alert_id = self._page(note, seen_alerts)
                link = ACK_LINK.search(note.text)
                home = seen_alerts.get(alert_id, "")
                who, reason = note.path.strip("/"), page_reason(str(note.body.get("title", "")))
                if home in unanswered and reason != "escalation":
                    self.say("dim", N_("({who} does not answer: the hub will escalate)"), who=who)
                elif link and reason in ("alert", "escalation") and \
                        alert_id not in self.acknowledged:
                    unanswered.discard(home)
                    self.acknowledged.append(alert_id)
                    acks.append((now + 4.0, link.group(0), alert_id, who))
            for item in [a for a in acks if a[0] <= now]:
                acks.remove(item)
                _, url, alert_id, who = item
                # The link opens the acknowledge page; its button POSTs the acknowledgement.
                with urllib.request.urlopen(url, data=b"", timeout=5) as response:
                    ok = response.status == 200
                outcome = (lambda lang: translator(lang).gettext("done")) if ok else \
                    (lambda lang: translator(lang).gettext("failed"))
                self.say("bold green", N_("ACK #{id}: {who} acknowledged through the link in the "
                         "page ({outcome})"), id=alert_id, who=who, outcome=outcome)
                followups += [(now + 5.0, "on_site", alert_id, who),
                              (now + 10.0, "resolve", alert_id, who)]
            for item in [f for f in followups if f[0] <= now]:
                followups.remove(item)
                self._follow_up(site, *item[1:])
                if item[1] == "resolve":
                    busy.discard(seen_alerts.get(item[2], ""))
            stop.wait(0.25)
        return 0

    def _watch_online(self, site: LocalSite, started: float) -> None:
        if len(self.online) == len(site.agents):
            return
        for home in site.get("/api/homes"):
            if home.get("agent") == "online" and home["id"] not in self.online:
                self.online[home["id"]] = time.monotonic() - started
                self.say("green", N_("{home}: its agent is online at the hub"), home=home["id"])

    def _new_alert(self, alert: dict[str, Any], seen: dict[int, str]) -> None:
        alert_id, home, kind = int(alert["id"]), str(alert["home"]), str(alert["kind"])
        seen[alert_id] = home
        press = next((p for p in self.presses if p.home == home and p.alert_id is None), None)
        if press is not None and kind == "call":
            press.alert_id = alert_id
        self.say("bold red", N_("ALERT #{id}: {what} in {home} ({severity})"), id=alert_id,
                 what=lambda lang: kind_text(kind, lang), home=home,
                 severity=lambda lang: translator(lang).gettext(
                     SEVERITY_TAGS.get(str(alert.get("severity")), "")))

    def _pending_pages(self, seen: dict[int, str]) -> list[Notification]:
        """Return the pages whose alert is known; keep the others for the next round."""
        ready: list[Notification] = []
        later: list[Notification] = []
        while not self._notes.empty():
            note = self._notes.get_nowait()
            number = ALERT_NUMBER.search(str(note.body.get("title", "")))
            known = number is not None and int(number.group(1)) in seen
            stale = time.monotonic() - note.received_monotonic > 10
            (ready if known or stale else later).append(note)
        for note in later:
            self._notes.put(note)
        return ready

    def _page(self, note: Notification, seen: dict[int, str]) -> int:
        """Print a page, timed against its cause; return its alert's number (0: unknown)."""
        title = str(note.body.get("title", ""))
        number = ALERT_NUMBER.search(title)
        alert_id = int(number.group(1)) if number else 0
        who, reason = note.path.strip("/"), page_reason(title)
        press = next((p for p in self.presses if p.alert_id == alert_id), None)
        if press is None:
            self.say("magenta", N_("PAGE to {who}: {title}"), who=who, title=title)
            return alert_id
        since = note.received_monotonic - press.at
        due = {"escalation": STEPS.get(ROLES.get(who, ""), 0.0),
               "reminder": round(since / REMINDER_EVERY_S) * REMINDER_EVERY_S}.get(reason, 0.0)
        self.pages.append(PageSeen(alert_id, who, reason, since - due, since))
        delay = f"{(since - due) * 1000:.0f}"
        if reason == "escalation":
            self.say("bold magenta", N_("ESCALATED #{id} to {who} ({role}): {ms} ms after its step "
                     "fell due, {s} s after the press"), id=alert_id, who=who,
                     role=lambda lang: translator(lang).gettext(
                         ROLE_TEXTS.get(ROLES.get(who, ""), "")),
                     ms=delay, s=f"{since:.1f}")
        elif reason == "reminder":
            self.say("magenta", N_("REMINDER #{id} to {who}: {s} s after the press"), id=alert_id,
                     who=who, s=f"{since:.1f}")
        else:
            self.say("bold magenta", N_("PAGE #{id} to {who}: {ms} ms after the press"),
                     id=alert_id, who=who, ms=delay)
        first = note.text.strip().splitlines()
        self.console.print(f"         {escape(first[0] if first else '')}", highlight=False,
                           soft_wrap=True)
        return alert_id

    def _follow_up(self, site: LocalSite, action: str, alert_id: int, who: str) -> None:
        body: dict[str, Any] = {"caregiver": who}
        if action == "resolve":
            body.update(resolution="real", note="helped the resident back to bed")
        site.post(f"/api/alerts/{alert_id}/{action}", body)
        if action == "on_site":
            self.say("bold cyan", N_("ON SITE #{id}: {who} is with the resident"), id=alert_id,
                     who=who)
        else:
            self.say("bold cyan", N_("RESOLVED #{id} by {who}"), id=alert_id, who=who)

    def _summary(self) -> None:
        firsts: dict[int, float] = {}
        for page in self.pages:
            if page.reason == "alert":
                firsts.setdefault(page.alert_id, page.delay_s)
        if not self.presses:
            return
        paged = [firsts[p.alert_id] for p in self.presses if p.alert_id in firsts]
        if paged:
            self.say("bold", N_("{paged} of {calls} calls paged; from press to page: median "
                                "{median} ms, longest {longest} ms"),
                     paged=len(paged), calls=len(self.presses),
                     median=f"{statistics.median(paged) * 1000:.0f}",
                     longest=f"{max(paged) * 1000:.0f}")
        else:
            self.say("bold red", N_("{paged} of {calls} calls paged"), paged=0,
                     calls=len(self.presses))


def run_demo(*, homes: int = 3, press_every: float = 15.0, duration: float | None = None,
             workdir: Path | None = None,
             console_factory: Callable[[], Console] = Console) -> int:
    """Run the demo until Ctrl-C (or `duration` seconds of pressing); return the exit code."""
    return Demo(homes=homes, press_every=press_every, duration=duration, workdir=workdir,
                console=console_factory()).run()
