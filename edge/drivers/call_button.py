"""Call-button radio receiver on a serial line (bed-side and pendant call buttons).

The receiver speaks the bedwatch framing (`edge/drivers/framing.py`); its frame types are
in `docs/serial-protocol.md`. Decoding is pure (`decode_frame`), the serial port is injected.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from edge.drivers.base import SerialDeviceConfig
from edge.drivers.framing import Frame, FrameDecoder
from edge.drivers.serial_link import SerialDriver, SerialOpener
from edge.items import DeviceEvent, DeviceHealth, DriverItem, Observation

log = logging.getLogger(__name__)

FRAME_HELLO = 0x01
FRAME_HEARTBEAT = 0x02
FRAME_BUTTON = 0x10
DEVICE_TYPE_CALL_RECEIVER = 0x10

ACTION_CALL = 1
ACTION_CANCEL = 2
ACTION_CHECKIN = 3
BATTERY_UNKNOWN = 0xFF

HELLO = struct.Struct("<BBBB")  # device type, firmware major, minor, patch
HEARTBEAT = struct.Struct("<IH")  # uptime s, supply mV
BUTTON = struct.Struct("<IBBb")  # button id, action, battery %, rssi dBm


class CallButtonConfig(SerialDeviceConfig):
    """A call-button receiver on a serial port."""

    type: Literal["call_button"] = Field(description="Driver type.")
    baudrate: int = Field(9600, gt=0, description="Serial speed of the receiver.")
    buttons: list[int] = Field(
        default_factory=list,
        description="Ids of the buttons paired with this receiver; each must check in.",
    )
    silent_after_s: float = Field(
        30.0, gt=0, description="Receiver silence (no frame at all) that raises device_silent."
    )
    checkin_timeout_s: float = Field(
        90_000.0,
        gt=0,
        # EN 50134-2: a wireless trigger must signal at least every 24 h.
        description="A paired button not heard for this long raises device_silent (25 h).",
    )
    low_battery_pct: int = Field(20, ge=0, le=100, description="Warn at or below this battery.")


def decode_frame(frame: Frame, device: str, t: float, *, low_battery_pct: int = 20
                 ) -> list[DriverItem]:
    """Turn one valid frame from the receiver into readings, events and health."""
    items: list[DriverItem] = []
    if frame.type == FRAME_HELLO:
        if len(frame.payload) < HELLO.size:
            raise ValueError(f"hello frame of {len(frame.payload)} bytes, expected {HELLO.size}")
        kind, major, minor, patch = HELLO.unpack_from(frame.payload)
        if kind != DEVICE_TYPE_CALL_RECEIVER:
            raise ValueError(f"device type 0x{kind:02x} is not a call-button receiver")
        items.append(DeviceHealth(device, t, connected=True))
        items.append(Observation(device, "device_info", t,
                                 {"firmware": f"{major}.{minor}.{patch}"}))
    elif frame.type == FRAME_HEARTBEAT:
        if len(frame.payload) < HEARTBEAT.size:
            raise ValueError(f"heartbeat of {len(frame.payload)} bytes, expected {HEARTBEAT.size}")
        uptime, supply_mv = HEARTBEAT.unpack_from(frame.payload)
        items.append(Observation(device, "receiver", t,
                                 {"uptime_s": uptime, "supply_v": supply_mv / 1000}))
    elif frame.type == FRAME_BUTTON:
        if len(frame.payload) < BUTTON.size:
            raise ValueError(f"button frame of {len(frame.payload)} bytes, expected {BUTTON.size}")
        button, action, battery, rssi = BUTTON.unpack_from(frame.payload)
        fields: dict[str, bool | int | float | str] = {"button": button, "rssi_dbm": rssi}
        data: dict[str, object] = {"button": button, "rssi_dbm": rssi}
        if battery != BATTERY_UNKNOWN:
            if battery > 100:
                raise ValueError(f"battery {battery} % is out of range")
            fields["battery_pct"] = battery
            data["battery_pct"] = battery
        if action == ACTION_CALL:
            items.append(DeviceEvent(device, "call", t, data))
        elif action == ACTION_CANCEL:
            items.append(DeviceEvent(device, "call_cancel", t, data))
        elif action != ACTION_CHECKIN:
            raise ValueError(f"unknown button action {action}")
        items.append(Observation(device, "call_button", t, fields))
        if battery != BATTERY_UNKNOWN and battery <= low_battery_pct:
            items.append(DeviceEvent(device, "low_battery", t, data))
    else:
        raise ValueError(f"unknown frame type 0x{frame.type:02x}")
    return items


class CallButtonDriver(SerialDriver):
    """Read a call-button receiver; yield calls, check-ins and receiver health."""

    config: CallButtonConfig

    def __init__(self, config: CallButtonConfig, open_serial: SerialOpener | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(config, open_serial, clock)
        self.decoder = FrameDecoder()
        now = clock()
        self._last_checkin: dict[int, float] = {b: now for b in config.buttons}
        self._silent_buttons: set[int] = set()

    def frames_seen(self) -> int:
        return self.decoder.counters.frames

    def on_reconnect(self) -> None:
        self.decoder.reset()

    def error_counts(self) -> dict[str, int]:
        return {**self.decoder.counters.as_dict(), **self.errors}

    def _supervise_buttons(self, t: float) -> list[DriverItem]:
        items: list[DriverItem] = []
        for button, seen in self._last_checkin.items():
            if t - seen > self.config.checkin_timeout_s and button not in self._silent_buttons:
                self._silent_buttons.add(button)
                items.append(DeviceEvent(self.device_id, "device_silent", t,
                                         {"button": button, "last_seen": seen,
                                          "timeout_s": self.config.checkin_timeout_s}))
        return items

    def handle_bytes(self, data: bytes, t: float) -> list[DriverItem]:
        """Decode bytes read from the port; count and skip anything corrupt."""
        items: list[DriverItem] = []
        for frame in self.decoder.feed(data):
            try:
                decoded = decode_frame(frame, self.device_id, t,
                                       low_battery_pct=self.config.low_battery_pct)
            except ValueError as exc:
                self.errors["decode"] += 1
                log.warning("%s: skipped frame: %s", self.device_id, exc)
                continue
            for item in decoded:
                if isinstance(item, Observation) and item.kind == "call_button":
                    button = int(item.fields["button"])
                    self._last_checkin[button] = t
                    if button in self._silent_buttons:
                        self._silent_buttons.discard(button)
                        items.append(DeviceEvent(self.device_id, "device_recovered", t,
                                                 {"button": button}))
            items.extend(decoded)
        items.extend(self._supervise_buttons(t))
        return items
