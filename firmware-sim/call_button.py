"""A simulated call-button receiver: the same frames as the real one, on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import numpy as np

from edge.drivers.call_button import (
    ACTION_CALL,
    ACTION_CANCEL,
    ACTION_CHECKIN,
    BUTTON,
    DEVICE_TYPE_CALL_RECEIVER,
    FRAME_BUTTON,
    FRAME_HEARTBEAT,
    FRAME_HELLO,
    HEARTBEAT,
    HELLO,
)
from edge.drivers.framing import encode_frame
from firmware_sim.serial_port import SimulatedSerialPort

FIRMWARE = (1, 2, 0)


class CallButtonSim:
    """A receiver with paired buttons; press them from tests, the demo or a terminal."""

    def __init__(self, folder: Path, *, heartbeat_s: float = 5.0, buttons: list[int] | None = None,
                 battery_pct: int = 90, rssi_dbm: int = -60, name: str = "ttyCALL") -> None:
        self.port = SimulatedSerialPort(folder, name)
        self.heartbeat_s = heartbeat_s
        self.buttons = buttons or [0x00C0FFEE]
        self.battery_pct = battery_pct
        self.rssi_dbm = rssi_dbm
        self._seq = 0
        self._uptime_s = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stalled = False

    @property
    def path(self) -> Path:
        return self.port.path

    def _send(self, frame_type: int, payload: bytes) -> bool:
        with self._lock:
            frame = encode_frame(frame_type, self._seq, payload)
            self._seq = (self._seq + 1) & 0xFF
            return self.port.write(frame)

    def hello(self) -> bool:
        return self._send(FRAME_HELLO, HELLO.pack(DEVICE_TYPE_CALL_RECEIVER, *FIRMWARE))

    def heartbeat(self) -> bool:
        return self._send(FRAME_HEARTBEAT, HEARTBEAT.pack(self._uptime_s, 5010))

    def _button(self, button: int | None, action: int) -> bool:
        chosen = self.buttons[0] if button is None else button
        return self._send(FRAME_BUTTON, BUTTON.pack(chosen, action, self.battery_pct,
                                                    self.rssi_dbm))

    def press(self, button: int | None = None) -> bool:
        """Press a call button (the first paired one by default)."""
        return self._button(button, ACTION_CALL)

    def cancel(self, button: int | None = None) -> bool:
        """Cancel a call from the button, as a resident who pressed by mistake does."""
        return self._button(button, ACTION_CANCEL)

    def checkin(self, button: int | None = None) -> bool:
        """Send a button's supervision check-in."""
        return self._button(button, ACTION_CHECKIN)

    def inject(self, data: bytes) -> bool:
        """Write raw bytes (garbage, a damaged frame) on the line."""
        return self.port.write(data)

    def unplug(self) -> None:
        self.port.unplug()

    def replug(self) -> None:
        self.port.plug()
        self.hello()

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self._uptime_s += int(self.heartbeat_s)
            if not self.stalled:
                self.heartbeat()

    def start(self) -> Self:
        self.port.plug()
        self.hello()
        for button in self.buttons:
            self.checkin(button)
        self._thread = threading.Thread(target=self._run, daemon=True, name="call-button-sim")
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


def receiver_stream(calls: list[float], t0: float, rng: np.random.Generator, *,
                    button: int = 0x00C0FFEE, heartbeat_s: float = 600.0,
                    day_s: float = 86_400.0) -> Iterator[tuple[float, bytes]]:
    """The bytes a receiver sends over a day with presses at `calls` (offsets in s), in time
    order: hello, heartbeats, the button's check-in, each press, and radio trouble.

    Each press may follow line noise (random bytes, a stray sync word) and a damaged copy of
    itself (one bit flipped, as after interference): the decoder must drop those and keep the
    press. Faster than real time: nothing waits.
    """
    seq = 0

    def frame(frame_type: int, payload: bytes) -> bytes:
        nonlocal seq
        data = encode_frame(frame_type, seq, payload)
        seq = (seq + 1) & 0xFF
        return data

    def press(action: int) -> bytes:
        return frame(FRAME_BUTTON, BUTTON.pack(button, action, 90, -60))

    events: list[tuple[float, str]] = [(0.0, "hello"), (float(rng.uniform(0, day_s)), "checkin")]
    events += [(t, "heartbeat") for t in np.arange(heartbeat_s, day_s, heartbeat_s)]
    events += [(t, "call") for t in calls]
    for offset, what in sorted(events):
        if what == "hello":
            data = frame(FRAME_HELLO, HELLO.pack(DEVICE_TYPE_CALL_RECEIVER, *FIRMWARE))
        elif what == "heartbeat":
            data = frame(FRAME_HEARTBEAT, HEARTBEAT.pack(int(offset), 5010))
        elif what == "checkin":
            data = press(ACTION_CHECKIN)
        else:
            clean = press(ACTION_CALL)
            noise = rng.integers(0, 256, size=int(rng.integers(0, 24)), dtype=np.uint8).tobytes()
            if rng.random() < 0.3:
                noise += b"\xb3\xd5"  # a stray sync word
            if rng.random() < 0.3:
                damaged = bytearray(clean)
                bit = int(rng.integers(16, len(damaged) * 8))
                damaged[bit // 8] ^= 1 << (bit % 8)
                noise += bytes(damaged)
            data = noise + clean
        yield t0 + float(offset), data


async def run_pty(*, press_every: float = 20.0) -> None:
    """Serve a receiver on a pty, print its path, press a button every `press_every` s."""
    folder = Path(tempfile.mkdtemp(prefix="bedwatch-sim-"))
    with CallButtonSim(folder) as sim:
        print(f"call-button receiver on {sim.path} (9600 8N1); pressing every {press_every:.0f} s",
              flush=True)
        while True:
            await asyncio.sleep(press_every)
            sim.press()
            print("pressed", flush=True)
