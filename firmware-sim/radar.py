"""A simulated Seeed 60 GHz radar on a pseudo-terminal: answers the firmware version query with
a version Seeed documents and reports presence, in-bed state, breathing and heart rate
(MR60BHA1) or falls (MR60FDA1).

It can also play the radars' awkward moments: slow to start (silent, then the
initialisation-complete report), a version query that is never answered, and a settling
radar whose first rates are 0 bpm.
"""

from __future__ import annotations

import asyncio
import os
import select
import tempfile
import threading
from pathlib import Path
from typing import Self

from edge.drivers.radar import HEAD, INIT_COMPLETE, QUERY, VERSION_QUERY, encode_frame
from firmware_sim.serial_port import SimulatedSerialPort

# Version answers from Seeed's wiki (Radar_MR60BHA1.md, Radar_MR60FDA1.md, "Update firmware
# via UART").
FIRMWARE = {"mr60bha1": "G60SM1SYv010009", "mr60fda1": "G60FD1SYv010104"}


class RadarSim:
    """A radar that answers its version query and reports every `interval_s`.

    `start_delay_s`: silent for this long, ignoring queries, then sends the
    initialisation-complete report. `answers_version=False`: never answers the version query.
    `settling_reports`: how many first reports carry 0 bpm for both rates.
    """

    def __init__(self, folder: Path, *, model: str = "mr60bha1", firmware: str | None = None,
                 interval_s: float = 1.0, start_delay_s: float = 0.0,
                 answers_version: bool = True, settling_reports: int = 0) -> None:
        self.port = SimulatedSerialPort(folder, "ttyRADAR")
        self.model = model
        self.firmware = firmware or FIRMWARE[model]
        self.interval_s = interval_s
        self.start_delay_s = start_delay_s
        self.answers_version = answers_version
        self.settling_reports = settling_reports
        self.heart_rate = 62
        self.breathing_rate = 14
        self.in_bed = 1
        self.queries_heard = 0
        self._started = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def path(self) -> Path:
        return self.port.path

    def send(self, control: int, command: int, data: bytes) -> bool:
        return self.port.write(encode_frame(control, command, data))

    def fall(self) -> None:
        self.send(0x83, 0x01, b"\x01")

    def long_stay(self) -> None:
        self.send(0x83, 0x05, b"\x01")

    def _report(self) -> None:
        self.send(0x80, 0x01, b"\x01")
        if self.model == "mr60bha1":
            settling = self.settling_reports > 0
            if settling:
                self.settling_reports -= 1
            self.send(0x84, 0x01, bytes([self.in_bed]))
            self.send(0x81, 0x02, bytes([0 if settling else self.breathing_rate]))
            self.send(0x85, 0x02, bytes([0 if settling else self.heart_rate]))
        else:
            self.send(0x80, 0x02, b"\x01")

    def _answer(self) -> None:
        # Read what the host writes; answer a version query as the radar does once started.
        query = encode_frame(*VERSION_QUERY, QUERY)
        buffer = b""
        while not self._stop.is_set():
            fd = self.port.master_fd
            if fd is None:
                self._stop.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                buffer += os.read(fd, 256)
            except OSError:
                self._stop.wait(0.05)
                continue
            while query in buffer:
                buffer = buffer.replace(query, b"", 1)
                self.queries_heard += 1
                if self._started.is_set() and self.answers_version:
                    self.send(*VERSION_QUERY, self.firmware.encode())
            if len(buffer) > 64 and HEAD not in buffer:
                buffer = b""

    def _run(self) -> None:
        if self.start_delay_s and self._stop.wait(self.start_delay_s):
            return
        self._started.set()
        if self.start_delay_s:
            self.send(*INIT_COMPLETE, QUERY)
        while not self._stop.wait(self.interval_s):
            self._report()

    def start(self) -> Self:
        self.port.plug()
        for target in (self._answer, self._run):
            thread = threading.Thread(target=target, daemon=True, name="radar-sim")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.port.unplug()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def run_pty(*, model: str = "mr60bha1") -> None:
    """Serve a radar on a pty and print its path until cancelled."""
    with RadarSim(Path(tempfile.mkdtemp(prefix="bedwatch-sim-")), model=model) as sim:
        print(f"{model} radar on {sim.path} (115200 8N1)", flush=True)
        await asyncio.Event().wait()  # until cancelled
