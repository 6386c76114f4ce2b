"""InfluxDB away for "ten minutes", compressed to 20 s, while a home streams readings: calls
are still paged in the usual time, nothing is shed, and every reading is written once InfluxDB
is back. Real broker, hub and agent processes; an InfluxDB of this test's own, which it
stops and starts again on the same port with the same data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.stack import InfluxDB
from tests.faults.api import Api, make_logins, site_db_url, wait_online
from tests.faults.load import ReadingStream, wait_stored
from tests.sitefixture import Site

AWAY_S = 20.0
PAGED_WITHIN_S = 10.0  # a call is paged in seconds when InfluxDB is there, too


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[InfluxDB]:
    """This test's own InfluxDB (the session's is shared with other tests)."""
    server = InfluxDB(tmp_path / "influxdb")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.e2e
def test_influxdb_away_under_load_pages_on_sheds_nothing_and_back_fills(site: Site) -> None:
    """Proves: with InfluxDB stopped for 20 s under a stream of readings, a call pressed
    meanwhile is paged within seconds; once InfluxDB is back, every reading the broker
    acknowledged (before, during and after the outage) is in it; the hub shed none."""
    streaming = site.add_home(resident="Resident 3", address="Street 3")  # no agent: a stream
    home = site.homes[0].id
    site.start_hub()
    site.start_agent(site.homes[0])
    api = Api(site.api, make_logins(site_db_url(site))["admin"])
    wait_online(api, list(site.agents))
    credentials = site.mosquitto.home_credentials(streaming.id)
    with ReadingStream(site.mosquitto.port, credentials, streaming.id) as stream:
        time.sleep(2.0)
        site.influxdb.stop()
        stopped_at = time.monotonic()
        before_outage = stream.readings
        time.sleep(2.0)
        pressed_at = time.monotonic()
        site.buttons[home].press()
        [page] = site.sink.wait_for(lambda n: n.path == "/cg-zhang", timeout=PAGED_WITHIN_S)
        paged_s = page.received_monotonic - pressed_at
        time.sleep(max(0.0, AWAY_S - (time.monotonic() - stopped_at)))
        during = api.get("/api/stats")
        site.influxdb.start()
        time.sleep(2.0)
    stored = wait_stored(site.influxdb.url, site.database, streaming.id, stream.readings)
    after = api.get("/api/stats")
    print(f"InfluxDB away {AWAY_S:g} s; call paged after {paged_s:.1f} s; readings "
          f"acknowledged by the broker={stream.readings} ({before_outage} before the outage) "
          f"in InfluxDB after={stored}; hub while away: "
          f"write errors={during['influx'].get('write_errors')} pending="
          f"{during['influx'].get('pending')}; hub after: {after['influx']}")
    assert paged_s <= PAGED_WITHIN_S
    assert stream.readings > before_outage > 0
    assert stored == stream.readings
    assert after["influx"]["shed"] == 0, after["influx"]
    assert after["influx"].get("write_errors", 0) >= 1  # it did try while InfluxDB was away
