"""Device drivers: one module per device family, listed in one explicit registry.

A driver type is a row here: its config model (with `type: Literal[...]`) and its class.
A driver module that fails to import fails the agent at start-up, loudly.
"""

from __future__ import annotations

from typing import Any

from edge.drivers.bed_sensor import BedSensorConfig, BedSensorDriver
from edge.drivers.bp_cuff import BpCuffConfig, BpCuffDriver
from edge.drivers.call_button import CallButtonConfig, CallButtonDriver
from edge.drivers.contact import DryContactConfig, DryContactDriver
from edge.drivers.fall_mat import FallMatConfig, FallMatDriver
from edge.drivers.radar import RadarConfig, RadarDriver
from edge.drivers.zigbee import ZigbeeConfig, ZigbeeDriver

DRIVERS: dict[str, tuple[type[Any], type[Any]]] = {
    "call_button": (CallButtonConfig, CallButtonDriver),
    "bed_sensor": (BedSensorConfig, BedSensorDriver),
    "fall_mat": (FallMatConfig, FallMatDriver),
    "radar": (RadarConfig, RadarDriver),
    "bp_cuff": (BpCuffConfig, BpCuffDriver),
    "dry_contact": (DryContactConfig, DryContactDriver),
    "zigbee": (ZigbeeConfig, ZigbeeDriver),
}
