"""Supervise a connection that must come back: one way to back off, and one way to report.

Every loop that holds a connection (a serial port, a BLE cuff, a dry contact, a broker,
InfluxDB, a restarted task) tells its `Link` what happened and lets it decide how long to wait:

    link = Link("publisher", Backoff(min_s=0.5, max_s=30.0))
    while not stop.is_set():
        try:
            async with connect() as conn:
                for report in link.up():      # a Recovery after an outage, else nothing
                    ...
                await work(conn)
        except ConnectionError as exc:
            if (fault := link.down(str(exc))) is not None:   # once per outage
                ...
        await link.wait(stop)

- **Backoff with full jitter**: the n-th wait of a run of failures is drawn uniformly from
  [`min_s`, min(`max_s`, `min_s`·`factor`ⁿ)], so many homes that lost the same broker do not
  come back in step, and none waits less than `min_s`.
- **Reset after staying up**: the waits start again from `min_s` only once a connection has
  stayed up for `reset_after_s`; one that drops right after connecting keeps backing off.
- **One fault and one recovery per outage**: the first failure after being up returns a
  `Fault` (or, with `fault_after_s`, the first failure once the outage is that old); further
  failures of the same outage return nothing; the first success after it returns a `Recovery`
  with the outage's length. Reports are also handed to `on_report` if given.
- **Time is injected**: `clock` (monotonic) and `sleep` (e.g. a fake that advances the fake
  clock) make tests run without real sleeping; `wait(stop)` returns as soon as `stop` is set.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
Uniform = Callable[[float, float], float]

# The waits start again from the minimum once a connection has stayed up this long.
RESET_AFTER_S = 10.0


@dataclass(frozen=True)
class Backoff:
    """How long to wait between attempts: full jitter between a minimum and a ceiling."""

    min_s: float
    max_s: float
    factor: float = 2.0
    reset_after_s: float = RESET_AFTER_S

    def __post_init__(self) -> None:
        if not 0 <= self.min_s <= self.max_s:
            raise ValueError(f"backoff needs 0 <= min_s <= max_s, not {self.min_s}, {self.max_s}")
        if self.factor < 1:
            raise ValueError(f"backoff factor must be at least 1, not {self.factor}")
        if self.reset_after_s < 0:
            raise ValueError(f"reset_after_s must not be negative, not {self.reset_after_s}")

    def ceiling(self, level: int) -> float:
        """Return the longest wait after `level` earlier waits of the same run of failures."""
        try:
            return min(self.max_s, self.min_s * self.factor ** level)
        except OverflowError:  # a run of failures long enough to pass any float
            return self.max_s


@dataclass(frozen=True)
class Fault:
    """An outage began (reported once per outage)."""

    name: str
    reason: str  # the first failure of the outage
    since: float  # clock time the outage began
    outage_s: float  # how long it had lasted when reported
    failures: int  # failures of this outage so far


@dataclass(frozen=True)
class Recovery:
    """An outage ended (reported once per outage, after its fault)."""

    name: str
    reason: str  # the first failure of the outage
    since: float
    outage_s: float
    failures: int


Report = Fault | Recovery


class Link:
    """The state of one supervised connection: up, or in an outage; and when to try again."""

    def __init__(self, name: str, backoff: Backoff, *, fault_after_s: float = 0.0,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep,
                 uniform: Uniform = random.uniform,
                 on_report: Callable[[Report], None] | None = None) -> None:
        if fault_after_s < 0:
            raise ValueError(f"fault_after_s must not be negative, not {fault_after_s}")
        self.name = name
        self.backoff = backoff
        self.fault_after_s = fault_after_s
        self.on_report = on_report
        self._clock = clock
        self._sleep = sleep
        self._uniform = uniform
        self.is_up = False
        self.up_since: float | None = None
        self.down_since: float | None = None  # set while an outage lasts
        self.attempts = 0  # tries to connect: those that worked and those that failed
        self.connects = 0
        self.failures = 0  # failed tries and lost connections
        self.outages = 0
        self.downtime_s = 0.0  # of ended outages
        self.last_outage_s: float | None = None
        self._level = 0  # waits so far in this run of failures
        self._reason = ""
        self._outage_failures = 0
        self._fault_reported = False

    @property
    def in_outage(self) -> bool:
        """Return True from the first failure until the next success."""
        return self.down_since is not None

    def downtime(self) -> float:
        """Return the total time spent in outages, the current one included."""
        current = 0.0 if self.down_since is None else self._clock() - self.down_since
        return self.downtime_s + current

    def _report(self, report: Report) -> None:
        if self.on_report is not None:
            try:
                self.on_report(report)
            except Exception:  # reporting must never stop the reconnecting
                log.exception("%s: reporting %s failed", self.name, type(report).__name__)

    def _fault_due(self, outage_s: float) -> bool:
        return self.fault_after_s <= 0 or outage_s > self.fault_after_s

    def up(self) -> list[Report]:
        """Say the connection works; return the reports due (a Recovery after an outage).

        Calling it again while up returns nothing. After an outage shorter than
        `fault_after_s` nothing is reported; after one that grew longer than that without a
        failure to notice it, its Fault comes first, then its Recovery.
        """
        if self.is_up:
            return []
        now = self._clock()
        self.is_up, self.up_since = True, now
        self.attempts += 1
        self.connects += 1
        if self.down_since is None:
            return []
        since, outage_s = self.down_since, now - self.down_since
        self.down_since = None
        self.downtime_s += outage_s
        self.last_outage_s = outage_s
        reports: list[Report] = []
        if not self._fault_reported and self._fault_due(outage_s):
            reports.append(Fault(self.name, self._reason, since, outage_s,
                                 self._outage_failures))
            self._fault_reported = True
        if self._fault_reported:
            reports.append(Recovery(self.name, self._reason, since, outage_s,
                                    self._outage_failures))
        for report in reports:
            self._report(report)
        return reports

    def down(self, reason: str) -> Fault | None:
        """Say an attempt failed or the connection was lost; return the outage's Fault once."""
        now = self._clock()
        if self.is_up:
            if self.up_since is not None and now - self.up_since >= self.backoff.reset_after_s:
                self._level = 0
        else:
            self.attempts += 1
        self.is_up = False
        self.failures += 1
        if self.down_since is None:
            self.down_since = now
            self.outages += 1
            self._reason = reason
            self._outage_failures = 0
            self._fault_reported = False
        self._outage_failures += 1
        outage_s = now - self.down_since
        if self._fault_reported or not self._fault_due(outage_s):
            return None
        self._fault_reported = True
        fault = Fault(self.name, self._reason, self.down_since, outage_s,
                      self._outage_failures)
        self._report(fault)
        return fault

    def next_delay(self) -> float:
        """Draw the next wait and count it: full jitter up to a ceiling that grows to max_s."""
        ceiling = self.backoff.ceiling(self._level)
        self._level += 1
        return self._uniform(self.backoff.min_s, ceiling)

    async def pause(self, delay: float, stop: asyncio.Event | None = None) -> bool:
        """Wait `delay` seconds, or until `stop` is set; return whether it was set."""
        if stop is None:
            await self._sleep(delay)
            return False
        if stop.is_set():
            return True
        sleeper = asyncio.ensure_future(self._sleep(delay))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()
        return stop.is_set()

    async def wait(self, stop: asyncio.Event | None = None) -> bool:
        """Back off before the next attempt; return whether `stop` was set meanwhile."""
        return await self.pause(self.next_delay(), stop)
