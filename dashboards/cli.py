"""`bedwatch dashboards …`: regenerate the committed JSON, check it, push it to a Grafana.

Imports Grafana's SDK and client only inside each command: the console script also runs on
a home unit, which has neither.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from bedwatch.i18n import N_, both

DESK = "desk"
OUTCOMES = {"created": N_("created"), "updated": N_("updated"),
            "unchanged": N_("unchanged")}
app = typer.Typer(no_args_is_help=True,
                  help="The monitoring desk's Grafana dashboards: build, check, push.")


@app.command("build")
def build_command(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the JSON (default: the package's dashboards/json).")] = None,
) -> None:
    """Regenerate every dashboard's JSON from the code."""
    from dashboards.build import JSON_DIR, write_all

    for path in write_all(out or JSON_DIR):
        typer.echo(both("written: {path}", DESK, path=path))


@app.command("check")
def check_command() -> None:
    """Fail when the committed JSON is not what the code builds."""
    from dashboards.build import stale

    wrong = stale()
    if wrong:
        typer.echo(both("out of date, run `bedwatch dashboards build`: {names}", DESK,
                        names=", ".join(wrong)), err=True)
        raise typer.Exit(1)
    typer.echo(both("every dashboard is up to date", DESK))


@app.command("push")
def push_command(
    url: Annotated[str, typer.Option("--url", help="Grafana's address, e.g. "
                                     "https://grafana.example.org")],
    token: Annotated[str | None, typer.Option(
        "--token", help="A Grafana service-account token (Editor role); default: the "
        "GRAFANA_TOKEN environment variable.")] = None,
    org_folder: Annotated[str, typer.Option(
        "--org-folder", help="The care organisation's folder; one folder per "
        "organisation.")] = "bedwatch",
) -> None:
    """Create or update every dashboard in the organisation's Grafana folder (idempotent)."""
    from dashboards.push import PushError, push

    token = token or os.environ.get("GRAFANA_TOKEN")
    if not token:
        typer.echo(both("no token: give --token or set GRAFANA_TOKEN", DESK), err=True)
        raise typer.Exit(2)
    try:
        report = push(url, token, organisation=org_folder)
    except PushError as exc:
        typer.echo(both("push failed: {reason}", DESK, reason=exc), err=True)
        raise typer.Exit(1) from exc
    if report.folder_created:
        typer.echo(both("folder created: {folder}", DESK, folder=org_folder))
    for uid, outcome in report.dashboards.items():
        typer.echo(f"{uid}: {both(OUTCOMES[outcome], DESK)}")
    for warning in report.warnings:
        typer.echo(both("warning: {text}", DESK, text=warning), err=True)
