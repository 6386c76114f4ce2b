"""Drive an alert engine on its fake clock, and read who it paged."""

from __future__ import annotations

from hub.alerts import AlertEngine
from tests.hub.conftest import FakeClock, RecordingNotifier


async def run_until(engine: AlertEngine, seconds: float, step: float = 0.5) -> None:
    """Advance the engine's fake clock by `seconds`, ticking and paging every `step`."""
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    end = clock.t + seconds
    while clock.t < end - 1e-9:
        clock.t = min(end, clock.t + step)
        engine.tick()
        await engine.process_due_pages()


def who(notifier: RecordingNotifier) -> list[str]:
    """Return the names in the URLs paged so far, in order (`json://cg-a/` → `cg-a`)."""
    return [url.split("//")[1].strip("/") for url, _, _ in notifier.sent]
