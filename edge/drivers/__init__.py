"""Device drivers: one module per device family, listed in one explicit registry.

A driver type is a row here: its config model (with `type: Literal[...]`) and its class.
A driver module that fails to import fails the agent at start-up, loudly.
"""

from __future__ import annotations

from typing import Any

from edge.drivers.call_button import CallButtonConfig, CallButtonDriver

DRIVERS: dict[str, tuple[type[Any], type[Any]]] = {
    "call_button": (CallButtonConfig, CallButtonDriver),
}
