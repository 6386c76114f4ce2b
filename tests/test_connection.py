"""The supervised-connection helper on a fake clock: jitter, growth, cap, reset, and exactly
one fault and one recovery per outage."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from bedwatch.connection import Backoff, Fault, Link, Recovery, Report
from edge.drivers.serial_link import SerialDriver
from edge.items import DeviceEvent, DriverItem


class FakeClock:
    """A monotonic clock that moves only when the code under test sleeps (or a test says)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _ceiling(low: float, high: float) -> float:
    return high


def _link(clock: FakeClock, min_s: float = 0.5, max_s: float = 30.0, *,
          reset_after_s: float = 10.0, fault_after_s: float = 0.0,
          uniform: Callable[[float, float], float] = random.uniform,
          on_report: Callable[[Report], None] | None = None) -> Link:
    return Link("test", Backoff(min_s, max_s, reset_after_s=reset_after_s),
                fault_after_s=fault_after_s, clock=clock, sleep=clock.sleep, uniform=uniform,
                on_report=on_report)


async def test_waits_double_from_the_minimum_up_to_the_cap() -> None:
    clock = FakeClock()
    link = _link(clock, uniform=_ceiling)
    for _ in range(10):
        link.down("refused")
        await link.wait()
    assert clock.slept == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]


async def test_full_jitter_stays_between_the_minimum_and_the_ceiling() -> None:
    clock = FakeClock()
    link = _link(clock, uniform=random.Random(7).uniform)
    for _ in range(2000):
        link.down("refused")
        await link.wait()
    ceilings = [min(30.0, 0.5 * 2 ** min(n, 10)) for n in range(2000)]
    assert all(0.5 <= s <= c for s, c in zip(clock.slept, ceilings, strict=True))
    capped = clock.slept[10:]
    # Full jitter: the whole range is used, not a band around the ceiling.
    assert min(capped) < 2.0 and max(capped) > 28.0
    assert 12.0 < sum(capped) / len(capped) < 18.5


def test_the_ceiling_survives_a_very_long_run_of_failures() -> None:
    backoff = Backoff(0.5, 30.0)
    assert backoff.ceiling(0) == 0.5
    assert backoff.ceiling(10**9) == 30.0
    assert Backoff(1.0, 1.0, factor=1.0).ceiling(10**9) == 1.0


@pytest.mark.parametrize("bad", [dict(min_s=2.0, max_s=1.0), dict(min_s=-1.0, max_s=1.0),
                                 dict(min_s=1.0, max_s=2.0, factor=0.5),
                                 dict(min_s=1.0, max_s=2.0, reset_after_s=-1.0)])
def test_a_nonsensical_backoff_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**bad)


async def test_waits_start_again_from_the_minimum_only_after_staying_up() -> None:
    clock = FakeClock()
    link = _link(clock, uniform=_ceiling, reset_after_s=10.0)
    for _ in range(4):
        link.down("refused")
        await link.wait()
    link.up()
    clock.now += 3.0  # up, but not long enough to prove anything
    link.down("dropped")
    await link.wait()
    assert clock.slept[-1] == 8.0
    link.up()
    clock.now += 10.0
    link.down("dropped")
    await link.wait()
    assert clock.slept[-1] == 0.5


async def test_one_fault_and_one_recovery_per_outage_across_many_failures() -> None:
    clock = FakeClock()
    seen: list[Report] = []
    link = _link(clock, uniform=_ceiling, on_report=seen.append)
    assert link.up() == []  # the first connection ends no outage
    reports: list[Report] = []
    for outage in range(3):
        clock.now += 60.0  # stayed up: every outage starts from the minimum
        for n in range(25):
            fault = link.down(f"refused {outage}.{n}")
            if fault is not None:
                reports.append(fault)
            await link.wait()
        reports += link.up()
        assert link.up() == []  # still up: nothing more to say
    assert seen == reports
    assert [type(r) for r in reports] == [Fault, Recovery] * 3
    first_fault, first_recovery = reports[0], reports[1]
    assert isinstance(first_fault, Fault) and isinstance(first_recovery, Recovery)
    assert first_fault.reason == first_recovery.reason == "refused 0.0"
    assert first_fault.outage_s == 0.0 and first_fault.failures == 1
    outage_s = 0.5 + 1 + 2 + 4 + 8 + 16 + 30.0 * 19
    assert first_recovery.outage_s == pytest.approx(outage_s)
    assert first_recovery.failures == 25
    assert first_recovery.since == first_fault.since == 1060.0
    assert link.outages == 3 and link.failures == 75 and link.connects == 4
    assert link.attempts == 1 + 3 * 25  # the lost connection is not a try; each reconnect is
    assert link.downtime_s == pytest.approx(3 * outage_s)
    assert link.last_outage_s == pytest.approx(outage_s)


async def test_downtime_counts_the_outage_still_going_on() -> None:
    clock = FakeClock()
    link = _link(clock)
    link.down("refused")
    clock.now += 7.0
    assert link.in_outage and link.downtime() == 7.0 and link.downtime_s == 0.0
    link.up()
    assert not link.in_outage and link.downtime() == 7.0


async def test_a_blip_shorter_than_fault_after_is_not_reported() -> None:
    clock = FakeClock()
    link = _link(clock, min_s=0.25, max_s=2.0, fault_after_s=5.0, uniform=_ceiling)
    link.up()
    assert link.down("gone") is None
    await link.wait()
    assert link.up() == []
    assert link.outages == 1 and link.last_outage_s == 0.25


async def test_a_long_outage_is_reported_once_it_is_older_than_fault_after() -> None:
    clock = FakeClock()
    link = _link(clock, min_s=0.25, max_s=2.0, fault_after_s=5.0, uniform=_ceiling)
    faults = []
    for _ in range(10):
        faults.append(link.down("gone"))
        await link.wait()
    reported = [f for f in faults if f is not None]
    assert len(reported) == 1 and faults.index(reported[0]) == 5  # 0.25+0.5+1+2+2 > 5
    assert reported[0].outage_s == 5.75 and reported[0].reason == "gone"
    assert [type(r) for r in link.up()] == [Recovery]


def test_an_outage_that_grew_long_unnoticed_reports_its_fault_then_its_recovery() -> None:
    clock = FakeClock()
    link = _link(clock, fault_after_s=5.0)
    assert link.down("gone") is None
    clock.now += 30.0  # no failure in between to notice it
    reports = link.up()
    assert [type(r) for r in reports] == [Fault, Recovery]
    assert [r.outage_s for r in reports] == [30.0, 30.0]


async def test_stop_during_a_wait_ends_it_at_once() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def endless(seconds: float) -> None:
        await never

    link = Link("test", Backoff(60.0, 60.0), sleep=endless)
    stop = asyncio.Event()
    waiting = asyncio.create_task(link.wait(stop))
    await asyncio.sleep(0)
    assert not waiting.done()
    stop.set()
    assert await asyncio.wait_for(waiting, 1.0) is True
    assert await asyncio.wait_for(link.wait(stop), 1.0) is True  # already stopped: no wait


async def test_a_wait_that_runs_out_says_not_stopped() -> None:
    clock = FakeClock()
    link = _link(clock, uniform=_ceiling)
    assert await link.wait(asyncio.Event()) is False
    assert clock.slept == [0.5]


async def test_cancelling_a_wait_leaves_nothing_running() -> None:
    link = Link("test", Backoff(60.0, 60.0))
    waiting = asyncio.create_task(link.wait(asyncio.Event()))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}


def test_a_failing_report_callback_does_not_stop_the_link() -> None:
    clock = FakeClock()

    def broken(report: Report) -> None:
        raise RuntimeError("log handler down")

    link = _link(clock, on_report=broken)
    assert isinstance(link.down("gone"), Fault)
    assert [type(r) for r in link.up()] == [Recovery]


# -- a real loop on the fake clock: the serial link shared by the serial drivers ---------------


class _Lines(SerialDriver):
    """The smallest serial driver: every chunk of bytes is one frame."""

    frames = 0

    def handle_bytes(self, data: bytes, t: float) -> list[DriverItem]:
        self.frames += 1
        return []

    def frames_seen(self) -> int:
        return self.frames


async def test_a_serial_port_missing_for_fifty_tries_is_one_fault_and_one_recovery() -> None:
    clock = FakeClock()
    tries = 0

    async def opener(port: str, baudrate: int
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        nonlocal tries
        tries += 1
        if tries <= 50:
            raise FileNotFoundError(f"no {port}")
        reader = asyncio.StreamReader()
        reader.feed_data(b"\x01")
        return reader, None  # type: ignore[return-value]  # the driver never writes

    config = SimpleNamespace(id="btn", port="/dev/ttyUSB0", baudrate=9600, reconnect_max_s=5.0)
    driver = _Lines(config, open_serial=opener)
    driver.link = Link("btn", Backoff(0.5, 5.0), clock=clock, sleep=clock.sleep)
    events: list[DeviceEvent] = []
    async with asyncio.timeout(5):
        async for item in driver:
            if isinstance(item, DeviceEvent):
                events.append(item)
                if item.kind == "device_recovered":
                    break
    assert [e.kind for e in events] == ["device_fault", "device_recovered"]
    assert events[0].data["reason"] == "cannot open /dev/ttyUSB0: no /dev/ttyUSB0"
    assert len(clock.slept) == 50 and max(clock.slept) <= 5.0
    assert driver.link.outages == 1 and driver.link.attempts == 51
    assert driver.link.downtime_s == pytest.approx(sum(clock.slept))
