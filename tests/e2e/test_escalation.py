"""Escalation end to end: real broker, real InfluxDB, the hub as its own process, pages to a
local sink; short escalation times so a test takes seconds."""

from __future__ import annotations

import time
import urllib.request
import uuid

from bedwatch import wire
from rig.sink import Notification
from rig.site import CaregiverSpec
from tests.browser.test_caregiver_page import publish_event
from tests.sitefixture import Site, publish_as_home

BACKUP_AFTER_S = 3.0
SUPERVISOR_AFTER_S = 6.0


def start(site: Site) -> None:
    site.start_hub(
        caregivers=[
            CaregiverSpec("cg-zhang", "Zhang Min", "town", [site.sink.url("cg-zhang")]),
            CaregiverSpec("cg-li", "Li Na", "town", [site.sink.url("cg-li")], role="backup"),
            CaregiverSpec("cg-wu", "Wu Qiang", "town", [site.sink.url("cg-wu")],
                          role="supervisor"),
        ],
        site={"reminder_every_s": 600, "ack_target_s": 600,
              "escalation": [{"role": "oncall", "after_s": 0},
                             {"role": "backup", "after_s": BACKUP_AFTER_S},
                             {"role": "supervisor", "after_s": SUPERVISOR_AFTER_S}]},
        tick_s=0.1)


def pages_to(site: Site, who: str) -> list[Notification]:
    return [n for n in site.sink.notifications if n.path == f"/{who}"]


def publish_raw(site: Site, home: str, event: wire.Event) -> None:
    publish_as_home(site, home, wire.events_topic(home), wire.encode(event))


def test_no_ack_escalates_to_backup_then_ack_stops_every_level(site: Site) -> None:
    start(site)
    fall = wire.Event(id=uuid.uuid4().hex, seq=1, t=time.time(), device="mat", kind="fall",
                      severity=wire.Severity.CRITICAL)
    publish_raw(site, "home-001", fall)
    [first] = site.sink.wait_for(lambda n: n.path == "/cg-zhang", timeout=10)
    publish_raw(site, "home-001", fall)  # the same message again (a redelivery)
    publish_event(site, "home-001", "fall")  # another fall report while the alert is open
    [backup] = site.sink.wait_for(lambda n: n.path == "/cg-li", timeout=10)
    waited = backup.received_monotonic - first.received_monotonic
    assert BACKUP_AFTER_S - 0.5 <= waited <= BACKUP_AFTER_S + 1.5, waited
    assert backup.body["title"].startswith("[紧急 · 已升级] ")

    link = next(w for w in backup.text.split() if "/ack/" in w)
    with urllib.request.urlopen(link, data=b"", timeout=5) as response:
        assert b"Acknowledged" in response.read()
    time.sleep(SUPERVISOR_AFTER_S + 1.0)
    assert len(pages_to(site, "cg-zhang")) == 1  # the duplicate and the repeat paged nobody
    assert len(pages_to(site, "cg-li")) == 1
    assert pages_to(site, "cg-wu") == []  # paging stopped at every level
    [alert] = site.get("/api/alerts?state=active")
    assert (alert["state"], alert["acknowledged_by"], alert["event_count"]) == (
        "acknowledged", "cg-li", 2)


def test_hub_killed_mid_escalation_neither_repeats_nor_skips(site: Site) -> None:
    start(site)
    publish_event(site, "home-001", "fall")
    site.sink.wait_for(lambda n: n.path == "/cg-zhang", timeout=10)
    assert site.hub is not None
    site.hub.kill()  # a power cut, not a clean stop
    time.sleep(BACKUP_AFTER_S + 1.0)  # the backup falls due while the hub is down
    site.hub.start()
    site.sink.wait_for(lambda n: n.path == "/cg-li", timeout=15)
    site.sink.wait_for(lambda n: n.path == "/cg-wu", timeout=15)
    time.sleep(1.0)
    assert [len(pages_to(site, who)) for who in ("cg-zhang", "cg-li", "cg-wu")] == [1, 1, 1]
