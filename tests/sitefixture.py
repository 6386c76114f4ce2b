"""A care organisation on this machine, as the demo runs it: real servers, hub and agents as
separate `bedwatch` processes, simulated devices on pseudo-terminals, pages to a local sink.

Loaded as a pytest plugin by `tests/conftest.py`, so `site` is a fixture everywhere."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rig.site import LocalSite as Site
from rig.stack import InfluxDB, Mosquitto

__all__ = ["Site", "publish_as_home", "site", "wait_for"]


def publish_as_home(site: Site, home: str, topic: str, payload: bytes) -> None:
    """Publish one message at QoS 1 as `home` does: its own broker user and bound client id
    (enrolled on first use). A running agent of that home is taken over by this session."""
    import paho.mqtt.client as mqtt

    credentials = site.mosquitto.home_credentials(home)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=credentials.client_id)
    client.username_pw_set(credentials.username, credentials.password)
    answers: list[Any] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: answers.append(reason)
    client.connect("127.0.0.1", site.mosquitto.port)
    client.loop_start()
    try:
        assert wait_for(lambda: answers, timeout=5), "the broker did not answer CONNECT"
        assert not answers[0].is_failure, f"the broker refused {home}: {answers[0]}"
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll `predicate` until it returns something true or `timeout` passes; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def site(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> Iterator[Site]:
    """Two homes with a call button each (buttons 100 and 101), on the test's servers; the
    test starts the hub and the agents it needs."""
    with Site(tmp_path, mosquitto=mosquitto, influxdb=influxdb,
              database=f"e2e_{uuid.uuid4().hex[:8]}") as state:
        for i in range(2):
            state.add_home(resident=f"Resident {i + 1}", address=f"Street {i + 1}",
                           button=100 + i, heartbeat_s=0.5)
        yield state
