"""A simulated serial device: a pseudo-terminal whose far end a driver opens like /dev/ttyUSB0.

The device side writes to the pty master; the driver opens the slave by a stable symlink
(as a udev rule gives a real adapter), so unplugging and plugging back keeps the path.
"""

from __future__ import annotations

import contextlib
import os
import threading
import tty
from pathlib import Path
from typing import Self


class SimulatedSerialPort:
    """A pty pair with a stable path, that can be unplugged and plugged back."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / name
        self._master: int | None = None
        self._slave: int | None = None
        self._lock = threading.Lock()

    @property
    def master_fd(self) -> int | None:
        """The device side, to read what the host writes (None while unplugged)."""
        return self._master

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        """Create the pty and point the stable path at it."""
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            tty.setraw(slave)
            tty.setraw(master)
            tmp = self.path.with_name(self.path.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(os.ttyname(slave))
            tmp.replace(self.path)
            self._master, self._slave = master, slave

    def unplug(self) -> None:
        """Close the pty, as pulling the USB adapter out does."""
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def write(self, data: bytes) -> bool:
        """Write bytes as the device; return False when unplugged."""
        with self._lock:
            if self._master is None:
                return False
            view = memoryview(data)
            while view:
                written = os.write(self._master, view)
                view = view[written:]
            return True

    def __enter__(self) -> Self:
        self.plug()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unplug()
