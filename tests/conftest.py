"""Fixtures shared by every test: real Mosquitto and InfluxDB servers on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.stack import HomeMosquitto, InfluxDB, Mosquitto

pytest_plugins = ["tests.livehub", "tests.sitefixture"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh Mosquitto broker for one test: no anonymous clients, identities in its
    dynamic-security plugin (`hub_credentials`, `home_credentials`, `enrol`, `revoke`)."""
    from tests.livehub import BROKERS

    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    BROKERS[broker.port] = broker
    try:
        yield broker
    finally:
        BROKERS.pop(broker.port, None)
        broker.stop()


@pytest.fixture
def home_mosquitto(tmp_path: Path) -> Iterator[HomeMosquitto]:
    """The broker inside a home that zigbee2mqtt publishes to (anonymous, loopback only)."""
    broker = HomeMosquitto(tmp_path / "home-mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    """One InfluxDB server for the session; each test uses a database of its own."""
    server = InfluxDB(tmp_path_factory.mktemp("influxdb"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
