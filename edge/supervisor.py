"""Keep a task alive: restart it with backoff whatever ends it, and count every restart."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

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
        self._delay = min_delay_s

    def healthy(self) -> None:
        """Say the task does its work again, so the next failure waits only the minimum."""
        self._delay = self.min_delay_s

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
            if error is None:
                log.warning("%s ended; restarting", self.name)
            else:
                log.error("%s crashed; restarting", self.name, exc_info=error)
            if self.on_exit is not None:
                try:
                    self.on_exit(error)
                except Exception:  # reporting a crash must not stop the restart
                    log.exception("%s: reporting the crash failed", self.name)
            try:
                await asyncio.wait_for(stop.wait(), self._delay * random.uniform(0.8, 1.2))
            except TimeoutError:
                pass
            self._delay = min(self._delay * 2, self.max_delay_s)
