"""`bedwatch demo`: a care organisation on one machine, shown live.

Starts real Mosquitto and InfluxDB servers, the hub and a few simulated homes (simulated
devices on pseudo-terminals, each home with its own edge agent process). Every so often a
resident presses the call button; the demo prints each alert as the hub raises it, each
page the hub sends (delivered through apprise to a local sink), and acknowledges the page
through its link as a caregiver would.
"""

from __future__ import annotations

import re
import signal
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from rig.sink import Notification
from rig.site import CaregiverSpec, LocalSite

ACK_LINK = re.compile(r"https?://\S+/ack/\S+")
ALERT_ID = re.compile(r"alert #(\d+)")

RESIDENTS = [
    ("Wang Guirong 王桂荣", "Qingshan Road 12, Unit 3", "site-town"),
    ("Li Jianguo 李建国", "Xinhua Lane 5, Building 2", "site-town"),
    ("Zhao Shufen 赵淑芬", "Shangping Village, House 17", "site-village"),
    ("Chen Yulan 陈玉兰", "Hexi Street 88", "site-town"),
    ("Liu Dezhi 刘德志", "Dongtou Village, House 4", "site-village"),
]
CAREGIVERS = [
    CaregiverSpec("cg-zhang", "Zhang Min 张敏", "site-town", []),
    CaregiverSpec("cg-li", "Li Na 李娜", "site-town", [], role="backup"),
    CaregiverSpec("cg-wu", "Wu Qiang 吴强", "site-town", [], role="supervisor"),
    CaregiverSpec("cg-huang", "Huang Li 黄丽", "site-village", []),
    CaregiverSpec("cg-zhao", "Zhao Lei 赵磊", "site-village", [], role="backup"),
]
# The demo shortens the escalation chain from minutes to seconds so that it can be watched.
DEMO_ESCALATION = {
    "escalation": [{"role": "oncall", "after_s": 0}, {"role": "backup", "after_s": 20},
                   {"role": "supervisor", "after_s": 40}, {"role": "family", "after_s": 60}],
    "reminder_every_s": 15,
}
SITES = [
    {"id": "site-town", "name": "Qingshan Street care station", "kind": "urban",
     **DEMO_ESCALATION},
    {"id": "site-village", "name": "Shangping township care station", "kind": "rural",
     **DEMO_ESCALATION},
]


def _stamp() -> str:
    return datetime.now().strftime("%H:%M:%S")


def run_demo(*, homes: int = 3, press_every: float = 15.0, duration: float | None = None,
             workdir: Path | None = None) -> int:
    """Run the demo until Ctrl-C (or `duration` seconds); return the exit code."""
    console = Console()
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="bedwatch-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pressed_at: dict[str, float] = {}
    handled: set[int] = set()
    pending_acks: list[tuple[float, str, Notification]] = []
    followups: list[tuple[float, str, int, str]] = []
    # Every third call is not answered by the on-call caregiver, to show the escalation.
    unanswered: set[str] = set()

    def on_page(note: Notification) -> None:
        home = next((h for h in pressed_at if h in note.text), None)
        delay = ""
        if home is not None:
            delay = f" [dim](+{(note.received_monotonic - pressed_at[home]) * 1000:.0f} ms "
            delay += "after the press)[/dim]"
        who = note.path.strip("/")
        first = note.text.strip().splitlines()
        console.print(f"{_stamp()} [bold magenta]PAGE[/] to {who}{delay}: "
                      f"{first[0] if first else ''}", soft_wrap=True)
        for line in first[1:]:
            if line.strip():
                console.print(f"           {line}", highlight=False, soft_wrap=True)
        link = ACK_LINK.search(note.text)
        title = str(note.body.get("title", ""))
        if home in unanswered and not title.startswith("[ESCALATED]"):
            console.print(f"           [dim]({who} does not answer: the hub will escalate)[/dim]")
        elif link:
            unanswered.discard(home or "")
            pending_acks.append((time.monotonic() + 4.0, link.group(0), note))

    console.rule("[bold]bedwatch demo")
    console.print(f"working folder: {root}")
    with LocalSite(root, sites=SITES, caregivers=CAREGIVERS, on_notification=on_page) as site:
        console.print(f"{_stamp()} Mosquitto on 127.0.0.1:{site.mosquitto.port} (no anonymous "
                      f"clients: the hub and each home have their own broker user), "
                      f"InfluxDB at {site.influxdb.url}")
        for i in range(homes):
            resident, address, site_id = RESIDENTS[i % len(RESIDENTS)]
            site.add_home(resident=resident, address=address, site=site_id,
                          button=0x1000 + i, bed_seed=i)
        hub = site.start_hub()
        api = site.api
        console.print(f"{_stamp()} hub up: {api}/api/alerts  (log: {hub.log_path})")
        console.print(f"{_stamp()} caregivers' pages: the 'Your alerts' link in each page")
        username, password = site.admin_credentials()
        console.print(f"{_stamp()} API login (made for this demo with `bedwatch hub "
                      f"create-admin`): {username} / {password}  at {api}/docs")
        agents = []
        for spec in site.homes:
            agents.append(site.start_agent(spec))
            console.print(f"{_stamp()} {spec.id}: {spec.resident}, {spec.address} "
                          f"[dim](call button on {site.buttons[spec.id].path})[/dim]")
        console.print(f"{_stamp()} [green]running[/]: a call button is pressed every "
                      f"{press_every:.0f} s; Ctrl-C stops everything")
        seen_alerts: set[Any] = set()
        started = time.monotonic()
        next_press = started + 3.0
        turn = 0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if duration is not None and now - started >= duration:
                    break
                for agent in agents:
                    if not agent.running:
                        console.print(f"[red]{agent.name} agent exited[/]:\n{agent.log_tail()}")
                        return 1
                if now >= next_press:
                    spec = site.homes[turn % len(site.homes)]
                    turn += 1
                    site.buttons[spec.id].press()
                    pressed_at[spec.id] = time.monotonic()
                    if turn % 3 == 0:
                        unanswered.add(spec.id)
                    console.print(f"{_stamp()} [bold yellow]CALL[/] {spec.resident} pressed "
                                  f"the call button in {spec.id}")
                    next_press = now + press_every
                for alert in site.get("/api/alerts?state=open"):
                    key = alert.get("id")
                    if key not in seen_alerts:
                        seen_alerts.add(key)
                        console.print(f"{_stamp()} [bold red]ALERT[/] #{key} {alert.get('kind')} "
                                      f"in {alert.get('home')} ({alert.get('severity')})")
                for item in [p for p in pending_acks if p[0] <= now]:
                    pending_acks.remove(item)
                    _, link, note = item
                    found = ALERT_ID.search(note.text)
                    alert_id = int(found.group(1)) if found else 0
                    if alert_id in handled:
                        continue
                    handled.add(alert_id)
                    # The link opens a page; its button POSTs the acknowledgement.
                    with urllib.request.urlopen(link, data=b"", timeout=5) as response:
                        ok = response.status == 200
                    who = note.path.strip("/")
                    console.print(f"{_stamp()} [bold green]ACK[/] #{alert_id} {who} acknowledged "
                                  f"through the link in the page ({'ok' if ok else 'failed'})")
                    followups.append((now + 5.0, "on_site", alert_id, who))
                    followups.append((now + 10.0, "resolve", alert_id, who))
                for followup in [f for f in followups if f[0] <= now]:
                    followups.remove(followup)
                    _, action, alert_id, who = followup
                    site.post(f"/api/alerts/{alert_id}/{action}",
                              {"caregiver": who, "resolution": "real",
                               "note": "helped the resident back to bed"}
                              if action == "resolve" else {"caregiver": who})
                    label = "ON SITE" if action == "on_site" else "RESOLVED"
                    console.print(f"{_stamp()} [bold cyan]{label}[/] #{alert_id} by {who}")
                stop.wait(0.25)
        except KeyboardInterrupt:
            pass
        # The site stops the hub first: agents going away on purpose must not page anyone.
        console.print(f"{_stamp()} stopping the hub, agents and servers…")
    console.print(f"{_stamp()} stopped at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    return 0
