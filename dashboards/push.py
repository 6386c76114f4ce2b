"""Send the desk's dashboards to a running Grafana over its HTTP API, idempotently.

One folder per care organisation; each dashboard is found by its uid and updated in place,
and left alone when Grafana already holds exactly what the code builds (no new version for
nothing). Talks to Grafana through `grafana-client`, authenticated with a service-account
token (Editor role is enough).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaUnauthorizedError,
)

from dashboards.build import DASHBOARDS, render
from dashboards.influxql import DATASOURCE_UID

DEFAULT_FOLDER = "bedwatch"
# Grafana's own bookkeeping in a stored dashboard, not part of what we build.
_VOLATILE = ("id", "version")


class PushError(RuntimeError):
    """Grafana could not be reached, refused the token, or refused a dashboard."""


@dataclass
class PushReport:
    """What a push did: the folder, and each dashboard created, updated or unchanged."""

    folder_uid: str
    folder_created: bool = False
    dashboards: dict[str, str] = field(default_factory=dict)  # uid -> created|updated|unchanged
    warnings: list[str] = field(default_factory=list)


def folder_uid(organisation: str) -> str:
    """Return the folder uid of an organisation (stable, ASCII, within Grafana's 40 chars)."""
    if organisation == DEFAULT_FOLDER:
        return DEFAULT_FOLDER
    return f"bedwatch-{hashlib.blake2b(organisation.encode(), digest_size=6).hexdigest()}"


def dashboard_uid(uid: str, organisation: str) -> str:
    """Return a dashboard's uid in an organisation's folder: uids are unique per Grafana."""
    if organisation == DEFAULT_FOLDER:
        return uid
    return f"{uid}-{folder_uid(organisation).removeprefix('bedwatch-')}"


def _status(exc: GrafanaException) -> int:
    return int(getattr(exc, "status_code", 0) or 0)


def _call(what: str, url: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one API call; turn Grafana's and the network's failures into a PushError."""
    try:
        return call(*args, **kwargs)
    except GrafanaUnauthorizedError as exc:
        raise PushError(f"Grafana at {url} refused the token (401) while trying to {what}: "
                        "check --token (a service-account token of this Grafana)") from exc
    except GrafanaClientError as exc:
        if _status(exc) == 403:
            raise PushError(f"the token may not {what} at {url} (403): give its service "
                            "account the Editor role") from exc
        raise PushError(f"Grafana at {url} refused to {what} ({_status(exc)}): "
                        f"{exc}") from exc
    except GrafanaException as exc:
        raise PushError(f"could not {what} at {url}: {exc}") from exc
    except OSError as exc:
        raise PushError(f"could not reach Grafana at {url}: {exc}") from exc


def _get(what: str, url: str, call: Any, *args: Any) -> Any | None:
    """Return what Grafana holds, or None when it holds nothing (404)."""
    try:
        return _call(what, url, call, *args)
    except PushError as exc:
        cause = exc.__cause__
        if isinstance(cause, GrafanaClientError) and _status(cause) == 404:
            return None
        raise


def _comparable(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k not in _VOLATILE}


def push(url: str, token: str | None, *, organisation: str = DEFAULT_FOLDER,
         api: GrafanaApi | None = None) -> PushReport:
    """Put every dashboard into the organisation's folder of the Grafana at `url`.

    `api` is for tests that hand in a client on a recorded transport.
    """
    api = api or GrafanaApi.from_url(url, credential=token)
    report = PushReport(folder_uid=folder_uid(organisation))
    folder = _get("read the folder", url, api.folder.get_folder, report.folder_uid)
    if folder is None:
        _call("create the folder", url, api.folder.create_folder, organisation,
              uid=report.folder_uid)
        report.folder_created = True
    if _get("read the data source", url, api.datasource.get_datasource_by_uid,
            DATASOURCE_UID) is None:
        report.warnings.append(
            f"no data source with uid {DATASOURCE_UID!r}: provision it from "
            "dashboards/provisioning/datasources/bedwatch.yaml or create it with that uid")
    for base_uid in DASHBOARDS:
        model = render(base_uid)
        model["uid"] = uid = dashboard_uid(base_uid, organisation)
        stored = _get("read a dashboard", url, api.dashboard.get_dashboard, uid)
        if stored is not None:
            held = stored.get("dashboard", {})
            if _comparable(held) == _comparable(model) and \
                    stored.get("meta", {}).get("folderUid") == report.folder_uid:
                report.dashboards[uid] = "unchanged"
                continue
        _call("save a dashboard", url, api.dashboard.update_dashboard, {
            "dashboard": {**model, "id": None}, "folderUid": report.folder_uid,
            "overwrite": True, "message": "bedwatch dashboards push"})
        report.dashboards[uid] = "created" if stored is None else "updated"
    return report
