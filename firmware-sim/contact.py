"""A simulated dry contact: a pear push or a mat switch, as the driver's line reader.

A pty has no modem status lines to set, so the simulator stands in for the line itself;
the driver's debouncing, faults and events are the same as on real hardware."""

from __future__ import annotations

import threading


class SimulatedContact:
    """A contact a test or the demo can press, release, bounce or cut."""

    def __init__(self, *, normally_closed: bool = False) -> None:
        self.normally_closed = normally_closed
        self.pressed = False
        self.unplugged = False
        self._lock = threading.Lock()
        self._bounces: list[bool] = []

    def read(self) -> bool:
        with self._lock:
            if self.unplugged:
                raise OSError("the adapter is gone")
            if self._bounces:
                return self._bounces.pop(0) != self.normally_closed
            return self.pressed != self.normally_closed

    def close(self) -> None:
        return None

    def press(self) -> None:
        with self._lock:
            self.pressed = True

    def release(self) -> None:
        with self._lock:
            self.pressed = False

    def bounce(self, levels: list[bool]) -> None:
        """Make the next reads return these pressed/released levels (contact bounce)."""
        with self._lock:
            self._bounces.extend(levels)
