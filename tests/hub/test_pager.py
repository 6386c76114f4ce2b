"""The pager against real channels: a local HTTP sink that refuses, a port that refuses, a
channel that never answers and a URL apprise cannot use; the engine falls through to the
caregiver's next channel and stores every attempt with its secrets masked."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.alerts import AlertEngine
from hub.pager import ApprisePager, redact
from rig.sink import NotificationSink
from tests.hub.conftest import site_config
from tests.hub.engine import build, deliveries, fire

SECRET = "s3cret-pw"


@pytest.fixture
def sink() -> Iterator[NotificationSink]:
    with NotificationSink(fail_first=1) as running:
        yield running


@pytest.fixture
def refusing_port() -> int:
    """A loopback port with nobody listening: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A loopback port that takes connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


def engine_with(tmp_path: Path, notify: list[str], timeout_s: float = 20.0) -> AlertEngine:
    config = site_config(tmp_path, pager={"delivery_timeout_s": timeout_s}, caregivers=[
        {"id": "cg-a", "name": "A", "site": "town", "notify": notify}])
    return build(config, ApprisePager())


async def test_a_refusing_service_is_a_failed_delivery_with_the_secret_masked(
        sink: NotificationSink) -> None:
    pager = ApprisePager()
    url = sink.url("cg-a").replace("json://", f"json://user:{SECRET}@")
    refused = await pager.deliver(url, "title", "body")  # the sink answers 503 once
    assert (refused.ok, refused.error) == (False, "the service refused or was unreachable")
    assert SECRET not in refused.channel and "user:****@127.0.0.1" in refused.channel
    taken = await pager.deliver(url, "title", "body")
    assert taken.ok and taken.error is None and SECRET not in taken.channel
    assert [n.body["title"] for n in sink.notifications] == ["title"]


async def test_a_refused_port_is_a_failed_delivery(refusing_port: int) -> None:
    result = await ApprisePager().deliver(
        f"json://user:{SECRET}@127.0.0.1:{refusing_port}/cg-a", "title", "body")
    assert not result.ok and result.error == "the service refused or was unreachable"
    assert SECRET not in result.channel


@pytest.mark.parametrize("url", ["nonsense://cg-a/", "json://", "not a url"])
async def test_an_invalid_url_is_refused_with_a_reason(url: str) -> None:
    result = await ApprisePager().deliver(url, "title", "body")
    assert (result.ok, result.error) == (False, "not a valid apprise URL")
    assert result.channel.endswith("://(invalid)") or result.channel == "(invalid URL)"


async def test_the_engine_falls_through_to_the_next_channel(
        tmp_path: Path, refusing_port: int) -> None:
    with NotificationSink() as sink:
        engine = engine_with(tmp_path, [
            f"json://user:{SECRET}@127.0.0.1:{refusing_port}/cg-a", sink.url("cg-a-sms")])
        fire(engine, "home-1", "call", "btn")
        assert await engine.process_due_pages() == 1
        [note] = sink.notifications
    assert note.path == "/cg-a-sms" and "Call button pressed" in note.body["title"]
    failed, taken = deliveries(engine)
    assert (failed.ok, failed.error) == (False, "the service refused or was unreachable")
    assert SECRET not in failed.channel and taken.ok
    assert engine.counters["delivery_failures"] == 1


async def test_a_hanging_channel_is_cut_by_the_delivery_timeout(
        tmp_path: Path, hanging_port: int) -> None:
    with NotificationSink() as sink:
        # rto: apprise's own read timeout, longer than the engine's, ends the stray request.
        hangs = f"json://user:{SECRET}@127.0.0.1:{hanging_port}/cg-a?rto=2"
        engine = engine_with(tmp_path, [hangs, sink.url("cg-a-sms")], timeout_s=0.3)
        fire(engine, "home-1", "call", "btn")
        async with asyncio.timeout(1.5):
            assert await engine.process_due_pages() == 1
        assert [n.path for n in sink.notifications] == ["/cg-a-sms"]
    hung, taken = deliveries(engine)
    assert (hung.ok, hung.error, taken.ok) == (False, "no answer within 0.3 s", True)
    assert SECRET not in hung.channel


def test_an_unparsable_url_shows_nothing_that_could_be_a_secret() -> None:
    assert redact("user:pw@host") == "(invalid URL)"
    assert "pw" not in redact("nosuchscheme://user:pw@host/")
