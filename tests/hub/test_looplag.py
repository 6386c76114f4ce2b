"""The hub measures how late its event loop answers, and names what held it."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from hub.looplag import LoopLag, StallReporter


def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a long synchronous statement does to every call waiting


async def test_a_held_loop_shows_in_the_lag_and_the_log_names_the_holder(
        caplog: pytest.LogCaptureFixture) -> None:
    """Proves: 400 ms of blocking work on the loop appears as a lag of about that much in the
    figures `/api/stats` reports, and the stall reporter logs the function holding it."""
    lag = LoopLag(period_s=0.01, stalls=StallReporter(threshold_s=0.1))
    stop = asyncio.Event()
    task = asyncio.create_task(lag.run(stop))
    await asyncio.sleep(0.1)
    quiet = lag.figures()
    with caplog.at_level(logging.WARNING, logger="hub.looplag"):
        _hold_the_loop(0.4)
        await asyncio.sleep(0.1)
    stop.set()
    await task
    figures = lag.figures()
    print(quiet, figures, [r.getMessage() for r in caplog.records])
    assert quiet["samples"] > 0 and quiet["max_ms"] < 300
    assert 300 <= figures["max_ms"] < 2000 and figures["worst_ms"] == figures["max_ms"]
    assert figures["p50_ms"] < figures["max_ms"]
    held = [r.getMessage() for r in caplog.records if "event loop held" in r.getMessage()]
    assert len(held) == 1 and "_hold_the_loop" in held[0]


def test_the_window_forgets_old_lags() -> None:
    """Proves: the percentiles cover the last `window_s` only; the worst since start stays."""
    lag = LoopLag(window_s=60.0)
    lag.note(0.0, 900.0)
    for n in range(1, 100):
        lag.note(61.0 + n / 10, 2.0)
    figures = lag.figures()
    assert figures["max_ms"] == 2.0 and figures["p99_ms"] == 2.0
    assert figures["worst_ms"] == 900.0 and figures["samples"] == 99
    assert LoopLag().figures() == {"samples": 0, "worst_ms": 0.0}
