"""Keep a task alive: restart it with backoff whatever ends it, and count every restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bedwatch.connection import Backoff, Link, Recovery, Report

log = logging.getLogger(__name__)


class Restarter:
    """Run one coroutine over and over until stop; one device's failure stays its own."""

    def __init__(self, name: str, *, min_delay_s: float = 1.0, max_delay_s: float = 60.0,
                 on_exit: Callable[[BaseException | None], None] | None = None) -> None:
        self.name = name
        self.min_delay_s = min_delay_s
        self.max_delay_s = max_delay_s
        self.on_exit = on_exit
        self.restarts = 0
        self.running = False
        self.last_error: str | None = None
        self.link = Link(name, Backoff(min_delay_s, max_delay_s), on_report=self._report)

    def _report(self, report: Report) -> None:
        if isinstance(report, Recovery):
            log.info("%s works again after %.1f s and %d restart(s)", self.name,
                     report.outage_s, report.failures)

    def healthy(self) -> None:
        """Say the task does its work again; once it has kept working, waits start anew."""
        self.link.up()

    async def run(self, body: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        """Run `body` until `stop` is set, restarting it after any exception or return."""
        while not stop.is_set():
            error: BaseException | None = None
            self.running = True
            try:
                await body()
            except asyncio.CancelledError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # we are being stopped
                error = exc  # a cancellation from inside the body is a crash like any other
            except Exception as exc:  # whatever kills it, it comes back
                error = exc
            finally:
                self.running = False
            if stop.is_set():
                return
            self.restarts += 1
            self.last_error = None if error is None else f"{type(error).__name__}: {error}"[:500]
            self.link.down(self.last_error or "ended")
            if error is None:
                log.warning("%s ended; restarting", self.name)
            else:
                log.error("%s crashed; restarting", self.name, exc_info=error)
            if self.on_exit is not None:
                try:
                    self.on_exit(error)
                except Exception:  # reporting a crash must not stop the restart
                    log.exception("%s: reporting the crash failed", self.name)
            await self.link.wait(stop)
