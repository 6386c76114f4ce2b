"""A notification service that takes the request and never answers: the hub gives up on it
after `pager.delivery_timeout_s`, the caregiver's next channel gets the page, and pages of
other alerts go out meanwhile without waiting. The hub is its own process; pages go to the
local sink; the hanging service is a socket that accepts and never replies."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from rig.site import CaregiverSpec
from tests.browser.test_caregiver_page import publish_event
from tests.faults.api import Api, make_logins, site_db_url
from tests.sitefixture import Site

TIMEOUT_S = 3.0


@pytest.fixture
def hanging_service() -> Iterator[tuple[str, socket.socket]]:
    """An HTTP endpoint that completes the TCP handshake (the kernel's backlog) and never
    answers: a service that hangs, for as long as the test runs."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield f"json://127.0.0.1:{server.getsockname()[1]}/hangs", server
    finally:
        server.close()


def _taken(server: socket.socket) -> int:
    """Accept what waits in the backlog (never answering); return how many connections."""
    server.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        count += 1
        connection.detach()  # left open, unanswered, until the test ends


def test_a_hanging_channel_costs_one_timeout_and_holds_up_no_other_page(
        site: Site, hanging_service: tuple[str, socket.socket]) -> None:
    """Proves: the on-call's first channel hangs; the page reaches the second channel after
    one delivery timeout; the desk's page for another home goes out at once meanwhile; a
    second call while the service still hangs is paged the same way; the hub stays healthy."""
    url, server = hanging_service
    site.start_hub(
        caregivers=[CaregiverSpec("cg-zhang", "Zhang Min", "town",
                                  [url, site.sink.url("cg-zhang-sms")])],
        desk=[{"id": "desk-1", "name": "Desk", "notify": [site.sink.url("desk-1")]}],
        site={"reminder_every_s": 600, "ack_target_s": 600,
              "escalation": [{"role": "oncall", "after_s": 0}]},
        pager={"delivery_timeout_s": TIMEOUT_S}, tick_s=0.2)
    api = Api(site.api, make_logins(site_db_url(site))["admin"])

    sent_at = time.monotonic()
    publish_event(site, "home-001", "call")
    publish_event(site, "home-404", "call")  # a home nobody registered: the desk is paged
    desk = site.sink.wait_for(lambda n: n.path == "/desk-1", timeout=15)[0]
    [fallback] = site.sink.wait_for(lambda n: n.path == "/cg-zhang-sms", timeout=15)
    desk_s = desk.received_monotonic - sent_at
    fallback_s = fallback.received_monotonic - sent_at

    publish_event(site, "home-002", "call")
    second = site.sink.wait_for(lambda n: n.path == "/cg-zhang-sms", count=2, timeout=15)
    alerts = {a["home"]: a for a in api.get("/api/alerts?state=open")}
    deliveries = api.get(f"/api/alerts/{alerts['home-001']['id']}")["deliveries"]
    health = api.get("/api/stats")
    hung = _taken(server)
    print(f"hanging service: connections taken={hung}; desk paged after {desk_s:.1f} s; "
          f"on-call reached on the second channel after {fallback_s:.1f} s (timeout "
          f"{TIMEOUT_S:g} s); second call reached={len(second) == 2}; deliveries of the "
          f"first={[(d['ok'], d['error']) for d in deliveries]}")
    assert hung >= 2  # both calls tried the hanging service first
    assert [d["ok"] for d in deliveries] == [False, True]
    assert deliveries[0]["error"] == f"no answer within {TIMEOUT_S:g} s"  # the hub's bound
    assert fallback_s >= TIMEOUT_S - 0.5
    assert fallback_s <= TIMEOUT_S + 5.0
    assert desk_s < fallback_s  # not queued behind the hanging delivery
    assert len(second) == 2
    assert health["ingest"]  # the hub answers and counts while a channel hangs
