"""End to end: a call-button press on a simulated serial line becomes a caregiver's page."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from tests.sitefixture import Site
from tests.sitefixture import wait_for as _wait


def _influxql(site: Site, query: str) -> list[dict]:
    data = urllib.parse.urlencode({"q": query, "db": site.database}).encode()
    with urllib.request.urlopen(f"{site.influxdb.url}/query", data=data, timeout=5) as response:
        return json.loads(response.read())["results"][0].get("series", [])


def test_press_pages_the_caregiver_and_readings_reach_influxdb(site: Site) -> None:
    site.start_hub()
    for home in site.homes:
        site.start_agent(home)
    assert _wait(lambda: all(h["agent"] == "online" for h in site.get("/api/homes"))), \
        site.get("/api/homes")

    site.buttons["home-002"].press()
    [page] = site.sink.wait_for(lambda n: "Call button pressed" in n.text, timeout=15)
    assert "home-002" in page.text and "Resident 2" in page.text and "Street 2" in page.text
    assert page.path == "/cg-zhang"

    [alert] = site.get("/api/alerts?state=open")
    assert (alert["home"], alert["kind"], alert["severity"]) == ("home-002", "call", "critical")

    # The receivers' heartbeats and the button's report are readings in InfluxDB.
    query = "SELECT count(supply_v) FROM receiver WHERE time > now() - 1h GROUP BY home"
    series = _wait(lambda: len(_influxql(site, query)) == 2 and _influxql(site, query))
    assert {s["tags"]["home"] for s in series} == {"home-001", "home-002"}
    button = _wait(lambda: _influxql(site, "SELECT button, rssi_dbm FROM call_button "
                                           "WHERE home = 'home-002'"))
    assert button[0]["values"][-1][1:] == [101.0, -60.0]

    # The caregiver opens the link (changes nothing), then taps the button (acknowledges).
    link = next(w for w in page.text.split() if "/ack/" in w)
    with urllib.request.urlopen(link, timeout=5) as response:
        assert b"acknowledge" in response.read()
    assert site.get(f"/api/alerts/{alert['id']}")["state"] == "open"
    with urllib.request.urlopen(link, data=b"", timeout=5) as response:
        assert b"Acknowledged" in response.read()
    acked = site.get(f"/api/alerts/{alert['id']}")
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "cg-zhang")
    assert [d["ok"] for d in acked["deliveries"]] == [True]


def test_agent_killed_without_goodbye_is_announced_by_its_will(site: Site) -> None:
    site.start_hub()
    agent = site.start_agent(site.homes[0])
    assert _wait(lambda: site.get("/api/homes")[0]["agent"] == "online")
    agent.kill()  # no clean disconnect: the broker publishes the last will after keepalive
    [page] = site.sink.wait_for(lambda n: "Home unit offline" in n.text, timeout=60)
    assert "home-001" in page.text
