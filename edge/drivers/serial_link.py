"""What every driver on a serial line shares: open the port, read, hand the bytes to the
driver's pure decoding, and survive unplugging with one fault event, backoff and a recovery
event once frames flow again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self

from bedwatch.connection import Backoff, Link, Recovery
from edge.items import DeviceEvent, DeviceHealth, DriverItem

# The first wait after losing the line; each config's reconnect_max_s caps the growth.
RECONNECT_MIN_S = 0.5

SerialOpener = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def open_serial_port(url: str, baudrate: int
                           ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a serial port (a device path or a pyserial URL) as asyncio streams."""
    import serial_asyncio_fast

    return await serial_asyncio_fast.open_serial_connection(url=url, baudrate=baudrate)


class SerialDriver:
    """Base of the serial drivers: subclasses decode in `handle_bytes` and may talk in `on_open`."""

    def __init__(self, config: Any, open_serial: SerialOpener | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.device_id: str = config.id
        self._open = open_serial or open_serial_port
        self._clock = clock
        self.errors: dict[str, int] = {"decode": 0, "disconnects": 0}
        self._writer: asyncio.StreamWriter | None = None
        most = float(getattr(config, "reconnect_max_s", 30.0))
        self.link = Link(self.device_id, Backoff(min(RECONNECT_MIN_S, most), most))

    # -- what a device family provides ---------------------------------------------------------

    def handle_bytes(self, data: bytes, t: float) -> list[DriverItem]:
        """Decode bytes read at time `t`; count and skip anything corrupt."""
        raise NotImplementedError

    def frames_seen(self) -> int:
        """Return how many valid frames have been decoded so far."""
        raise NotImplementedError

    async def on_open(self, writer: asyncio.StreamWriter) -> list[DriverItem]:
        """Talk to the device right after the port opens (e.g. ask its firmware version)."""
        return []

    def on_reconnect(self) -> None:
        """Forget partial data after the line was lost."""

    def error_counts(self) -> dict[str, int]:
        return dict(self.errors)

    # -- the shared loop -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._close()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def health(self, connected: bool, battery_pct: float | None = None) -> DeviceHealth:
        return DeviceHealth(self.device_id, self._clock(), connected, battery_pct=battery_pct,
                            errors=self.error_counts())

    async def __aiter__(self) -> AsyncIterator[DriverItem]:
        link = self.link
        port = self.config.port
        while True:
            try:
                reader, self._writer = await self._open(port, self.config.baudrate)
            except (OSError, ValueError) as exc:
                fault = link.down(f"cannot open {port}: {exc}")
                if fault is not None:
                    yield DeviceEvent(self.device_id, "device_fault", self._clock(),
                                      {"reason": fault.reason})
                    yield self.health(False)
                await link.wait()
                continue
            self.on_reconnect()
            frames_at_open = self.frames_seen()
            yield self.health(True)
            try:
                for item in await self.on_open(self._writer):
                    yield item
                while True:
                    data = await reader.read(4096)
                    if not data:
                        raise ConnectionError("end of stream")
                    t = self._clock()
                    items = self.handle_bytes(data, t)
                    # The line is back only once the device speaks, not when the port opens.
                    if not link.is_up and self.frames_seen() > frames_at_open:
                        for report in link.up():
                            if isinstance(report, Recovery):
                                yield DeviceEvent(self.device_id, "device_recovered", t,
                                                  {"port": port})
                    for item in items:
                        yield item
            except (OSError, ConnectionError) as exc:
                self.errors["disconnects"] += 1
                self._close()
                fault = link.down(f"{port}: {exc}")
                if fault is not None:
                    yield DeviceEvent(self.device_id, "device_fault", self._clock(),
                                      {"reason": fault.reason})
                yield self.health(False)
                await link.wait()
