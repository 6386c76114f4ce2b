"""Turn the dashboard modules into the committed JSON, and say when the two differ."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import devices, fleet, resident, service_levels

JSON_DIR = Path(__file__).resolve().parent / "json"
PROVISIONING_DIR = Path(__file__).resolve().parent / "provisioning"
# In the order the desk reads them; the uid is also the file's name.
DASHBOARDS: dict[str, Callable[[], builder.Dashboard]] = {
    fleet.UID: fleet.dashboard,
    resident.UID: resident.dashboard,
    service_levels.UID: service_levels.dashboard,
    devices.UID: devices.dashboard,
}


def render(uid: str) -> dict[str, Any]:
    """Return one dashboard's JSON model as Grafana stores it."""
    text = json.dumps(DASHBOARDS[uid]().build(), cls=JSONEncoder, ensure_ascii=False)
    model: dict[str, Any] = json.loads(text)
    return model


def text_of(model: dict[str, Any]) -> str:
    """Return a dashboard's JSON as committed: indented, UTF-8, a newline at the end."""
    return json.dumps(model, ensure_ascii=False, indent=2) + "\n"


def write_all(folder: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard's JSON into `folder`; return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for uid in DASHBOARDS:
        path = folder / f"{uid}.json"
        path.write_text(text_of(render(uid)), encoding="utf-8")
        written.append(path)
    return written


def stale(folder: Path = JSON_DIR) -> list[str]:
    """Return the dashboards whose committed JSON differs from what the code builds."""
    wrong = []
    for uid in DASHBOARDS:
        path = folder / f"{uid}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != text_of(render(uid)):
            wrong.append(uid)
    return wrong


def load_all(folder: Path = JSON_DIR) -> dict[str, dict[str, Any]]:
    """Return the committed dashboards by uid."""
    return {uid: json.loads((folder / f"{uid}.json").read_text(encoding="utf-8"))
            for uid in DASHBOARDS}
