"""Dry contacts: a wired nurse-call pear push, or a pressure mat that closes a contact while
weight is on it. Read on a USB-serial adapter's modem status line (CTS, DSR, CD or RI) or a
GPIO line, debounced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal, Protocol, Self

from pydantic import Field, model_validator

from bedwatch.connection import Backoff, Link
from edge.drivers.base import DeviceConfigBase
from edge.items import DeviceEvent, DeviceHealth, DriverItem, Observation


class LineReader(Protocol):
    """Reads the raw level of the contact's line: True while the circuit is closed."""

    def read(self) -> bool: ...

    def close(self) -> None: ...


class DryContactConfig(DeviceConfigBase):
    """A dry contact on a modem status line or a GPIO line."""

    type: Literal["dry_contact"] = Field(description="Driver type.")
    purpose: Literal["call", "floor_mat"] = Field(
        description="'call': a pear push; 'floor_mat': weight on a pressure mat on the floor.")
    line: Literal["cts", "dsr", "cd", "ri", "gpio"] = Field(description="Which line to read.")
    port: str | None = Field(None, description="Serial adapter for modem lines.")
    gpio_value_path: Path | None = Field(
        None, description="GPIO value file, e.g. /sys/class/gpio/gpio17/value.")
    normally_closed: bool = Field(
        False, description="The contact opens when pressed; a cut wire then reads as pressed "
                           "and raises a fault instead of going unnoticed.")
    debounce_s: float = Field(0.05, ge=0, description="A level must hold this long to count.")
    poll_interval_s: float = Field(0.02, gt=0, description="How often the line is read.")
    report_every_s: float = Field(60.0, gt=0, description="State reading at least this often.")
    silent_after_s: float = Field(300.0, gt=0, description="Silence that raises device_silent.")
    stuck_after_s: float = Field(
        600.0, gt=0, description="A call contact held this long is reported as stuck.")
    reconnect_s: float = Field(1.0, gt=0, description="Wait before reopening a lost line.")

    @model_validator(mode="after")
    def _where(self) -> DryContactConfig:
        if self.line == "gpio" and self.gpio_value_path is None:
            raise ValueError("line 'gpio' needs gpio_value_path")
        if self.line != "gpio" and not self.port:
            raise ValueError(f"line {self.line!r} needs the serial adapter's port")
        return self


class ModemLineReader:
    """Read CTS/DSR/CD/RI of a serial adapter with pyserial."""

    def __init__(self, port: str, line: str) -> None:
        import serial

        self._serial = serial.serial_for_url(port, do_not_open=False)
        self._line = line

    def read(self) -> bool:
        return bool(getattr(self._serial, self._line))

    def close(self) -> None:
        self._serial.close()


class GpioReader:
    """Read a GPIO value file (sysfs or a bind-mounted one)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def read(self) -> bool:
        return self._path.read_text().strip() == "1"

    def close(self) -> None:
        return None


class Debouncer:
    """Report a level only after it held for `hold_s` (pure; time comes with each sample)."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.state: bool | None = None
        self._candidate: bool | None = None
        self._since = 0.0

    def update(self, level: bool, t: float) -> bool | None:
        """Feed a raw level at time `t`; return the new stable level when it changes."""
        if level == self.state:
            self._candidate = None
            return None
        if level != self._candidate:
            self._candidate, self._since = level, t
        if t - self._since >= self.hold_s:
            self.state, self._candidate = level, None
            return level
        return None


def contact_items(device: str, purpose: str, pressed: bool, t: float, *, first: bool = False
                  ) -> list[DriverItem]:
    """Return what a change of a debounced contact means (the first level is only a reading)."""
    items: list[DriverItem] = [Observation(device, "contact", t, {"pressed": pressed})]
    if first and not pressed:
        return items
    if purpose == "call" and pressed:
        items.append(DeviceEvent(device, "call", t, {"source": "pear_push"}))
    elif purpose != "call":
        items.append(DeviceEvent(device, "mat_pressed" if pressed else "mat_released", t, {}))
    return items


class ContactState:
    """What a stream of raw levels means: presses, releases, a stuck call, periodic state.

    Pure: time comes with each level, so recorded level sequences are golden cases.
    """

    def __init__(self, config: DryContactConfig) -> None:
        self.config = config
        self.debouncer = Debouncer(config.debounce_s)
        self._pressed_since: float | None = None
        self._stuck = False
        self._last_report = float("-inf")

    def step(self, t: float, closed: bool) -> list[DriverItem]:
        """Feed the raw line level read at time `t`."""
        cfg = self.config
        items: list[DriverItem] = []
        pressed = closed != cfg.normally_closed
        first = self.debouncer.state is None
        change = self.debouncer.update(pressed, t)
        if change is not None:
            self._pressed_since = t if change else None
            self._stuck = False
            items += contact_items(cfg.id, cfg.purpose, change, t, first=first)
            self._last_report = t
        if cfg.purpose == "call" and self._pressed_since is not None and not self._stuck and \
                t - self._pressed_since >= cfg.stuck_after_s:
            self._stuck = True  # a pear push held for ten minutes is a cut or jammed cable
            items.append(DeviceEvent(cfg.id, "device_fault", t, {
                "reason": "contact held closed", "since": self._pressed_since}))
        if t - self._last_report >= cfg.report_every_s and self.debouncer.state is not None:
            self._last_report = t
            items.append(Observation(cfg.id, "contact", t, {"pressed": self.debouncer.state}))
        return items


class DryContactDriver:
    """Poll a contact; yield presses and releases, a state reading now and then, and faults."""

    def __init__(self, config: DryContactConfig,
                 reader_factory: Callable[[], LineReader] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.device_id = config.id
        self._factory = reader_factory or self._default_reader
        self._clock = clock
        self.state = ContactState(config)
        self.errors: dict[str, int] = {"read": 0}
        self.link = Link(config.id, Backoff(config.reconnect_s, config.reconnect_s))

    def _default_reader(self) -> LineReader:
        if self.config.line == "gpio":
            assert self.config.gpio_value_path is not None
            return GpioReader(self.config.gpio_value_path)
        assert self.config.port is not None
        return ModemLineReader(self.config.port, self.config.line)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[DriverItem]:
        reader: LineReader | None = None
        link = self.link
        while True:
            t = self._clock()
            try:
                if reader is None:
                    reader = self._factory()
                    yield DeviceHealth(self.device_id, t, True, errors=dict(self.errors))
                closed = reader.read()
            except (OSError, ValueError) as exc:
                self.errors["read"] += 1
                if reader is not None:
                    reader.close()
                reader = None
                if (fault := link.down(str(exc))) is not None:
                    yield DeviceEvent(self.device_id, "device_fault", t, {"reason": fault.reason})
                    yield DeviceHealth(self.device_id, t, False, errors=dict(self.errors))
                await link.wait()
                continue
            if link.up():  # the first good read after an outage
                yield DeviceEvent(self.device_id, "device_recovered", t, {})
            for item in self.state.step(t, closed):
                yield item
            await asyncio.sleep(self.config.poll_interval_s)
