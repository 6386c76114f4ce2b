"""Simulated sensor boards on the bedwatch framing: the same bytes as the bed board and the
grid mat, rendered from a recording (see `physiology.py`), on a pty or as plain bytes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import numpy as np

from edge.drivers.framing import encode_frame
from edge.drivers.sampled_board import (
    FRAME_HEARTBEAT,
    FRAME_HELLO,
    FRAME_SAMPLES,
    HEARTBEAT,
    BoardInfo,
    encode_hello,
    encode_samples,
)
from firmware_sim.serial_port import SimulatedSerialPort

HELLO_EVERY_S = 10.0
HEARTBEAT_EVERY_S = 5.0


def to_counts(values: np.ndarray, info: BoardInfo) -> np.ndarray:
    """Convert physical units to ADC counts as the board's converter would."""
    return np.round((values - info.offset) / info.scale).astype(np.int64)


class BoardStream:
    """The frames a board sends for a recording, in order, with their times."""

    def __init__(self, info: BoardInfo, samples: np.ndarray, *, per_frame: int,
                 supply_mv: int = 5020, t0: float = 0.0) -> None:
        self.info = info
        self.t0 = t0  # UTC time of the first sample (for offline runs)
        self.counts = to_counts(samples, info)
        self.per_frame = per_frame
        self.supply_mv = supply_mv
        self._seq = 0

    def _frame(self, kind: int, payload: bytes) -> bytes:
        frame = encode_frame(kind, self._seq, payload)
        self._seq = (self._seq + 1) & 0xFF
        return frame

    def frames(self, start_index: int = 0) -> Iterator[tuple[float, bytes]]:
        """Yield (seconds after the first sample, frame bytes) for the whole recording."""
        fs = self.info.rate_hz
        next_hello = next_beat = 0.0
        for first in range(0, len(self.counts), self.per_frame):
            chunk = self.counts[first:first + self.per_frame]
            t_last = (first + len(chunk) - 1) / fs
            if t_last >= next_hello:
                yield t_last, self._frame(FRAME_HELLO, encode_hello(self.info))
                next_hello += HELLO_EVERY_S
            if t_last >= next_beat:
                yield t_last, self._frame(FRAME_HEARTBEAT,
                                          HEARTBEAT.pack(int(t_last), self.supply_mv))
                next_beat += HEARTBEAT_EVERY_S
            payload = encode_samples(start_index + first, chunk, self.info.sample_format)
            yield t_last, self._frame(FRAME_SAMPLES, payload)

    def all_bytes(self) -> bytes:
        """Return the whole stream at once (for decoders run faster than real time)."""
        return b"".join(frame for _, frame in self.frames())


class BoardSim:
    """Play a board's stream on a pty in real time (or `speed` times faster), looping."""

    def __init__(self, folder: Path, stream: BoardStream, *, name: str,
                 speed: float = 1.0) -> None:
        self.port = SimulatedSerialPort(folder, name)
        self.stream = stream
        self.speed = speed
        self.stalled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path:
        return self.port.path

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            start = time.monotonic()
            for t, frame in self.stream.frames(start_index=index):
                delay = start + t / self.speed - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                if not self.stalled:
                    self.port.write(frame)
            index += len(self.stream.counts)

    def inject(self, data: bytes) -> None:
        self.port.write(data)

    def unplug(self) -> None:
        self.port.unplug()

    def replug(self) -> None:
        self.port.plug()

    def start(self) -> Self:
        self.port.plug()
        self._thread = threading.Thread(target=self._run, daemon=True, name="board-sim")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.port.unplug()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
