"""Two hub processes sharing one PostgreSQL database, one broker and one InfluxDB: every event
reaches both, each alert is run by one of them, and a page goes out once, also when the hub
running the alert is killed mid-escalation. Real `bedwatch hub run` processes, real servers;
pages counted at the local sink. Skipped when no PostgreSQL server answers."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bedwatch import wire
from hub.alerts import AlertEngine
from hub.db import AuditEntry, EventRecord, Page, make_engine, make_sessionmaker
from hub.enrolment import write_secret
from hub.pager import DeliveryResult
from hub.registry_file import REGISTRY_KEYS
from rig.site import CaregiverSpec, Program, free_port, hub_config, wait_http, write_toml
from tests.faults.api import make_logins
from tests.hub.conftest import (
    FakeClock,
    RecordingNotifier,
    fresh_postgres,
    site_config,
)
from tests.hub.engine import fire
from tests.sitefixture import Site, publish_as_home, wait_for

BACKUP_AFTER_S = 4.0
SUPERVISOR_AFTER_S = 8.0
LEASE_S = 2.0
PEOPLE = ("cg-zhang", "cg-li", "cg-wu")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped after it."""
    with fresh_postgres("bedwatch_multi", ": several hubs need one") as url:
        yield url


class TwoHubs:
    """Hub `a` (the site's own) and hub `b`: the same config but their own MQTT identity
    (client id, broker user, password) and API port, as a second machine would have."""

    def __init__(self, site: Site, pg_url: str) -> None:
        self.site = site
        self.pg_url = pg_url
        folder = site.root / "hub"
        doc = hub_config(
            workdir=folder, mqtt_port=site.mosquitto.port, influx_url=site.influxdb.url,
            api_port=int(site.api.rsplit(":", 1)[1]), homes=site.homes, database=site.database,
            secret=site.secret, sites=[{**s, "reminder_every_s": 600, "ack_target_s": 600,
                                        "escalation": [
                                            {"role": "oncall", "after_s": 0},
                                            {"role": "backup", "after_s": BACKUP_AFTER_S},
                                            {"role": "supervisor",
                                             "after_s": SUPERVISOR_AFTER_S}]}
                                       for s in site.sites],
            caregivers=[CaregiverSpec(who, who, "town", [site.sink.url(who)], role=role)
                        for who, role in zip(PEOPLE, ("oncall", "backup", "supervisor"),
                                             strict=True)])
        doc.update(database={"url": pg_url}, tick_s=0.1, alert_lease_s=LEASE_S)
        registry = write_toml(folder / "registry.toml",
                              {key: doc.pop(key) for key in REGISTRY_KEYS if key in doc})
        path_a = write_toml(folder / "hub.toml", doc)  # where the site's logins look for it
        importer = Program("import", ["hub", "import-registry", "--config", str(path_a),
                                      str(registry)], folder / "import.log").start()
        assert importer.process is not None and importer.process.wait(300) == 0, \
            importer.log_tail()
        name_a = doc["mqtt"]["client_id"]
        name_b = f"{name_a}-b"
        credentials = site.mosquitto.hub_credentials(name_b)  # as broker-init makes it
        write_secret(folder / "mqtt-password-b", credentials.password)
        port_b = free_port()
        doc["mqtt"].update(client_id=name_b, password_file=str(folder / "mqtt-password-b"))
        doc["api"].update(port=port_b, public_url=f"http://127.0.0.1:{port_b}")
        path_b = write_toml(folder / "hub-b.toml", doc)
        self.api = {name_a: site.api, name_b: f"http://127.0.0.1:{port_b}"}
        self.programs = {
            name: Program(name, ["hub", "run", "--config", str(path)],
                          folder / f"{name}.log").start()
            for name, path in ((name_a, path_a), (name_b, path_b))}
        site.hub = self.programs[name_a]  # the site stops it with the rest
        for name, program in self.programs.items():
            # Generous: on a busy machine a hub's imports alone can take half a minute.
            wait_http(f"{self.api[name]}/healthz", timeout_s=180, program=program)
        self.names = (name_a, name_b)
        self.tokens = make_logins(pg_url, ("cg-li", "cg-zhang"))

    def stop(self) -> None:
        for program in self.programs.values():
            program.stop()

    def db(self) -> Session:
        return Session(create_engine(self.pg_url))

    def pages_to(self, who: str) -> int:
        return sum(1 for n in self.site.sink.notifications if n.path == f"/{who}")

    def counts(self) -> list[int]:
        return [self.pages_to(who) for who in PEOPLE]

    def alert(self, home: str, via: str | None = None) -> dict[str, Any]:
        return wait_for(lambda: next(iter(self.get(f"/api/alerts?home={home}", via)), None))

    def get(self, path: str, via: str | None = None) -> Any:
        """Ask a hub's API (hub a unless `via` names another) as the administrator."""
        return self.call(via or self.names[0], "GET", path, self.tokens["admin"])

    def call(self, name: str, method: str, path: str, token: str,
             body: dict[str, Any] | None = None) -> Any:
        """Ask the API of hub `name` (a login is valid at every hub: one database)."""
        request = urllib.request.Request(
            f"{self.api[name]}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())


@pytest.fixture
def hubs(site: Site, pg_url: str) -> Iterator[TwoHubs]:
    pair = TwoHubs(site, pg_url)
    try:
        yield pair
    finally:
        pair.stop()


def _event(kind: str) -> bytes:
    return wire.encode(wire.Event(id=uuid.uuid4().hex, seq=1, t=time.time(), device="mat",
                                  kind=kind, severity=wire.DEFAULT_SEVERITY[kind]))


def _sent(hubs: TwoHubs, alert_id: int, who: str) -> bool:
    """Return True once a page of the alert to `who` is recorded as delivered."""
    alert = hubs.get(f"/api/alerts/{alert_id}")
    return any(d["ok"] and d["caregiver"] == who for d in alert["deliveries"])


def test_a_press_is_paged_once_each_step_fires_once_and_an_ack_at_the_other_hub_stops_all(
        hubs: TwoHubs, site: Site) -> None:
    """Proves: with two hubs receiving every event, a call-button press opens one alert, run
    by one hub, which pages on-call once and escalates to the backup once; the backup's
    acknowledgement through the API of the hub that does not run the alert stops escalation
    on both (no supervisor page)."""
    home = site.homes[0]
    site.start_agent(home)
    assert wait_for(lambda: any(h["id"] == home.id and h["agent"] == "online"
                                for h in hubs.get("/api/homes")), timeout=180)
    site.buttons[home.id].press()
    assert site.sink.wait_for(lambda n: n.path == "/cg-zhang", timeout=15)
    alert = hubs.alert(home.id)
    owner = alert["owner"]
    assert owner in hubs.names, alert
    other = next(name for name in hubs.names if name != owner)
    [backup] = site.sink.wait_for(lambda n: n.path == "/cg-li", timeout=15)
    waited = backup.received_at - alert["opened_at"]
    assert BACKUP_AFTER_S - 0.2 <= waited <= BACKUP_AFTER_S + 3.0, waited
    assert wait_for(lambda: _sent(hubs, alert["id"], "cg-li"))

    acked = hubs.call(other, "POST", f"/api/alerts/{alert['id']}/ack", hubs.tokens["cg-li"],
                      {})
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "cg-li"
    time.sleep(max(0.0, alert["opened_at"] + SUPERVISOR_AFTER_S + 2.0 - time.time()))

    stats = [hubs.call(name, "GET", "/api/stats", hubs.tokens["admin"]) for name in hubs.names]
    with hubs.db() as db:
        calls = db.scalars(select(EventRecord).where(EventRecord.home == home.id,
                                                     EventRecord.kind == "call")).all()
        claimers = {p.claimed_by for p in db.scalars(select(Page))}
    duplicates = sum(int(s.get("duplicates", 0)) for s in stats)
    print(f"hubs={hubs.names} owner={owner} calls stored={len(calls)} seen again by the other "
          f"hub={duplicates} pages on-call/backup/supervisor={hubs.counts()} "
          f"delivered by={sorted(c or '-' for c in claimers)}")
    assert len(calls) == 1
    assert hubs.counts() == [1, 1, 0]
    assert claimers == {owner}  # one hub ran the alert and sent its pages


def test_the_hub_running_an_escalation_killed_the_other_takes_over_and_skips_nothing(
        hubs: TwoHubs, site: Site) -> None:
    """Proves: SIGKILL of the hub that runs an alert, after its first page: the other hub
    takes the alert over once the lease ran out and pages backup and supervisor once each,
    on time; on-call is not paged again; a call arriving meanwhile is paged once."""
    publish_as_home(site, "home-001", wire.events_topic("home-001"), _event("fall"))
    assert site.sink.wait_for(lambda n: n.path == "/cg-zhang", timeout=15)
    alert = hubs.alert("home-001")
    owner = alert["owner"]
    survivor = next(name for name in hubs.names if name != owner)
    assert wait_for(lambda: _sent(hubs, alert["id"], "cg-zhang"))
    hubs.programs[owner].kill()  # a power cut, not a clean stop
    killed_at = time.monotonic()

    [backup] = site.sink.wait_for(lambda n: n.path == "/cg-li", timeout=20)
    [supervisor] = site.sink.wait_for(lambda n: n.path == "/cg-wu", timeout=20)
    publish_as_home(site, "home-002", wire.events_topic("home-002"), _event("call"))
    site.sink.wait_for(lambda n: n.path == "/cg-zhang", count=2, timeout=15)
    call = hubs.alert("home-002", via=survivor)  # the killed hub's API answers no more
    hubs.call(survivor, "POST", f"/api/alerts/{call['id']}/ack", hubs.tokens["cg-zhang"], {})
    time.sleep(2 * LEASE_S)  # any page sent twice would arrive meanwhile

    with hubs.db() as db:
        taken = db.scalars(select(AuditEntry).where(AuditEntry.action == "taken_over")).all()
        claimers = {p.claimed_by for p in db.scalars(select(Page))}
    counts = hubs.counts()
    print(f"killed {owner} {backup.received_monotonic - killed_at:.1f} s before the backup's "
          f"page; taken over by {[t.detail.get('hub') for t in taken]} from "
          f"{[t.detail.get('from') for t in taken]}; pages on-call/backup/supervisor={counts} "
          f"delivered by={sorted(c or '-' for c in claimers)}")
    # On-call: the fall's first page and the later call's; each step of the fall once.
    assert counts == [2, 1, 1]
    assert [(t.alert_id, t.detail["hub"], t.detail["from"]) for t in taken] == [
        (alert["id"], survivor, owner)]
    waited = backup.received_at - alert["opened_at"]
    assert BACKUP_AFTER_S - 0.2 <= waited <= BACKUP_AFTER_S + LEASE_S + 3.0, waited
    waited = supervisor.received_at - alert["opened_at"]
    assert SUPERVISOR_AFTER_S - 0.2 <= waited <= SUPERVISOR_AFTER_S + 3.0, waited
    assert claimers == {owner, survivor}
    assert not hubs.programs[owner].running



# -- the rules in one process: two engines (two hubs) on one PostgreSQL, one fake clock ------


class Tagged:
    """A notifier that notes which hub sent what, into one list shared by both."""

    def __init__(self, tag: str, sent: list[tuple[str, str]]) -> None:
        self.tag = tag
        self.sent = sent

    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        self.sent.append((self.tag, url))
        return DeliveryResult(True, url)


def _engine(url: str, config: Any, notifier: Any, clock: FakeClock, owner: str) -> AlertEngine:
    return AlertEngine(make_sessionmaker(make_engine(url)), notifier, secret="k" * 32,
                       public_url="http://hub.test", clock=clock, config=config, owner=owner)


async def _run(engines: list[AlertEngine], clock: FakeClock, until: float,
               step: float = 5.0) -> None:
    while clock.t < until:
        clock.t += step
        for engine in engines:
            engine.tick()
            await engine.process_due_pages()


async def test_one_hub_runs_an_alert_the_other_takes_over_when_it_stops_and_nothing_changes(
        tmp_path: Path, pg_url: str) -> None:
    """Proves: with two hubs ticking on one store, the owner alone pages; when it stops, the
    other takes the alert over after the lease and the pages go on exactly as one hub's would
    (same people, same order, none twice or skipped); the stopped owner, ticking again late,
    fires nothing."""
    config = site_config(tmp_path, database={"url": pg_url}, alert_lease_s=10)
    clock = FakeClock()
    sent: list[tuple[str, str]] = []
    a = _engine(pg_url, config, Tagged("a", sent), clock, "hub-a")
    b = _engine(pg_url, config, Tagged("b", sent), clock, "hub-b")
    start = clock.t
    alert = fire(a, "home-1", "call", "btn")
    assert alert is not None and alert.owner == "hub-a"
    await _run([a, b], clock, start + 120)  # both alive: a runs it
    await _run([b], clock, start + 400)  # a stopped (no tick, no renewal)
    clock.t = start + 405
    a.tick()  # a wakes up late: the alert is b's now
    await a.process_due_pages()

    # The same alert on one hub alone, on its own store.
    single_sent: list[tuple[str, str]] = []
    (tmp_path / "one").mkdir()
    single_config = site_config(tmp_path / "one")
    single_clock = FakeClock()
    single = _engine(single_config.database.url, single_config, Tagged("one", single_sent),
                     single_clock, "hub")
    fire(single, "home-1", "call", "btn")
    await _run([single], single_clock, single_clock.t + 400)

    with a.sessions() as session:
        taken = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "taken_over")).all()
    print(f"pages by hub: {[tag for tag, _ in sent]}; one hub alone: {len(single_sent)} pages; "
          f"taken over: {[(t.detail['from'], t.detail['hub']) for t in taken]}")
    assert [url for _, url in sent] == [url for _, url in single_sent]
    assert len(single_sent) >= 6  # the first page, reminders and two escalation steps
    tags = [tag for tag, _ in sent]
    assert "a" in tags and "b" in tags
    assert tags == sorted(tags)  # a's pages, then b's: never both
    assert [(t.detail["from"], t.detail["hub"]) for t in taken] == [("hub-a", "hub-b")]


async def test_a_page_is_claimed_by_one_hub_until_its_claim_runs_out(
        tmp_path: Path, pg_url: str) -> None:
    """Proves: a due page claimed by one hub cannot be claimed by the other; the claim is
    renewed while its delivery goes on and can be taken only once it lapsed."""
    config = site_config(tmp_path, database={"url": pg_url}, alert_lease_s=10)
    clock = FakeClock()
    a = _engine(pg_url, config, RecordingNotifier(), clock, "hub-a")
    b = _engine(pg_url, config, RecordingNotifier(), clock, "hub-b")
    fire(a, "home-1", "call", "btn")
    with a.sessions() as session:
        [page_id] = session.scalars(select(Page.id)).all()
    now = clock.t
    with a.sessions() as session:
        assert a.ownership.claim_page(session, page_id, now)
    with b.sessions() as session:
        assert not b.ownership.claim_page(session, page_id, now)
        assert not b.ownership.claim_page(session, page_id, now + 9)
    with a.sessions() as session:  # a is still delivering at now + 8: it renews the claim
        a.ownership.upkeep(session, a.records, now + 8, delivering={page_id})
        session.commit()
    with b.sessions() as session:
        assert not b.ownership.claim_page(session, page_id, now + 12)
        assert b.ownership.claim_page(session, page_id, now + 19)
        page = session.get(Page, page_id)
        assert page is not None and page.claimed_by == "hub-b"
