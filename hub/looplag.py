"""How late the hub's event loop answers: the delay every call in this process waits for.

Everything of a hub process shares one asyncio loop: the control lane that receives a call,
the alert engine that opens it, the pager that delivers it, the API. A piece of work that holds
the loop (a long SQL statement, a large report folded in one go) delays all of them by its
length, and nothing else shows it. A task asks to sleep `period_s` and notes how much later it
woke; `/api/stats` reports the percentiles of the last `window_s` (`loop_lag_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def percentile(values: Iterable[float], q: float) -> float:
    """Return the `q`-th percentile (0–100) of `values` by nearest rank: a value that occurred,
    the largest of 100 values for q = 99. ValueError when there are none."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


class StallReporter:
    """Name what holds the loop: a thread that, when the loop has not answered for
    `threshold_s`, logs the loop thread's stack (its frames in bedwatch's own code), at most
    once every `every_s`. What blocks a call for a quarter of a second deserves a log line
    that says where."""

    def __init__(self, threshold_s: float = 0.25, every_s: float = 10.0) -> None:
        self.threshold_s = threshold_s
        self.every_s = every_s
        self.beat = time.monotonic()
        self.reported = 0
        self._thread_id = threading.get_ident()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="stall-reporter", daemon=True)

    def start(self) -> None:
        self._thread_id = threading.get_ident()  # the loop's thread: start() runs on it
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        last = -math.inf
        while not self._stop.wait(self.threshold_s / 4):
            now = time.monotonic()
            held = now - self.beat
            if held < self.threshold_s or now - last < self.every_s:
                continue
            frame = sys._current_frames().get(self._thread_id)
            if frame is None:
                continue
            last = now
            self.reported += 1
            ours = [f"{Path(entry.filename).parent.name}/{Path(entry.filename).name}:"
                    f"{entry.lineno} {entry.name}"
                    for entry in traceback.extract_stack(frame)
                    if "/site-packages/" not in entry.filename
                    and "/lib/python" not in entry.filename
                    and not entry.filename.startswith("<")][-6:]
            leaf = traceback.extract_stack(frame)[-1]
            log.warning("event loop held for %.0f ms so far, in %s (at %s:%d %s)",
                        held * 1000, " > ".join(ours) or "?", Path(leaf.filename).name,
                        leaf.lineno or 0, leaf.name)


class LoopLag:
    """The event loop's lateness over a sliding window (ms)."""

    def __init__(self, period_s: float = 0.05, window_s: float = 60.0,
                 stalls: StallReporter | None = None) -> None:
        self.period_s = period_s
        self.window_s = window_s
        self.stalls = stalls
        self._samples: deque[tuple[float, float]] = deque()
        self.worst_ms = 0.0  # since start

    def note(self, at: float, lag_ms: float) -> None:
        """Record one wake-up `lag_ms` late at monotonic time `at`."""
        self._samples.append((at, lag_ms))
        self.worst_ms = max(self.worst_ms, lag_ms)
        while self._samples and self._samples[0][0] < at - self.window_s:
            self._samples.popleft()

    async def run(self, stop: asyncio.Event) -> None:
        """Measure until `stop` is set."""
        if self.stalls is not None:
            self.stalls.start()
        try:
            while not stop.is_set():
                asked = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.period_s)
                woke = time.monotonic()
                if self.stalls is not None:
                    self.stalls.beat = woke
                self.note(woke, max(0.0, (woke - asked - self.period_s) * 1000))
        finally:
            if self.stalls is not None:
                self.stalls.stop()

    def figures(self) -> dict[str, float | int]:
        """Return p50, p99 and max of the window, the worst since start, and the sample count."""
        lags = [lag for _, lag in self._samples]
        if not lags:
            return {"samples": 0, "worst_ms": round(self.worst_ms, 1)}
        return {"samples": len(lags), "window_s": self.window_s,
                "p50_ms": round(percentile(lags, 50), 1),
                "p99_ms": round(percentile(lags, 99), 1),
                "max_ms": round(max(lags), 1), "worst_ms": round(self.worst_ms, 1)}
