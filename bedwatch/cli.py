"""The `bedwatch` command: run the edge agent, the hub, device simulators, the demo and the
detector evaluation."""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
edge_app = typer.Typer(no_args_is_help=True, help="The agent that runs in the elder's home.")
hub_app = typer.Typer(no_args_is_help=True, help="The care organisation's central service.")
app.add_typer(edge_app, name="edge")
app.add_typer(hub_app, name="hub")

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="TOML config file.", exists=False, dir_okay=False)
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@edge_app.command("run")
def edge_run(config: ConfigOption, verbose: Verbose = False) -> None:
    """Run the edge agent with its drivers, detectors and outbox."""
    _logging(verbose)
    from edge.agent import main

    raise typer.Exit(main(config))


@edge_app.command("check")
def edge_check(config: ConfigOption) -> None:
    """Validate an edge config file and print what it configures."""
    from edge.config import ConfigError, load_config

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{config}: home {loaded.home}, {len(loaded.devices)} device(s)")
    for device in loaded.devices:
        typer.echo(f"  {device.id}: {device.type}")


@hub_app.command("run")
def hub_run(config: ConfigOption, verbose: Verbose = False) -> None:
    """Run the hub: MQTT ingest, InfluxDB writer, alert engine, pager and REST API."""
    _logging(verbose)
    from hub.service import main

    raise typer.Exit(main(config))


@hub_app.command("check")
def hub_check(config: ConfigOption) -> None:
    """Validate a hub config file."""
    from hub.config import ConfigError, load_config

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"{config}: {len(loaded.sites)} site(s), {len(loaded.homes)} home(s), "
        f"{len(loaded.caregivers)} caregiver(s)"
    )


@app.command()
def sim(
    device: Annotated[str, typer.Argument(help="Simulator name, e.g. call_button, radar.")],
    pty: Annotated[
        bool, typer.Option("--pty", help="Serve the device on a pseudo-terminal.")
    ] = True,
) -> None:
    """Run one simulated device on a pseudo-terminal, to watch with a real serial tool."""
    if not pty:
        raise typer.BadParameter("only --pty is supported")
    try:
        module = importlib.import_module(f"firmware_sim.{device}")
    except ModuleNotFoundError as exc:
        raise typer.BadParameter(f"no simulator named {device!r}") from exc
    run_pty = getattr(module, "run_pty", None)
    if run_pty is None:
        raise typer.BadParameter(f"simulator {device!r} has no pty mode")
    try:
        asyncio.run(run_pty())
    except KeyboardInterrupt:
        pass


@app.command()
def demo(
    homes: Annotated[int, typer.Option(help="How many simulated homes.", min=1, max=20)] = 3,
    press_every: Annotated[
        float, typer.Option(help="Seconds between simulated call-button presses.", min=2)
    ] = 15.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Folder for servers' data and logs (default: a temp dir).")
    ] = None,
) -> None:
    """Start Mosquitto, InfluxDB, the hub and simulated homes; press call buttons; show pages."""
    from rig.demo import run_demo

    raise typer.Exit(run_demo(homes=homes, press_every=press_every, duration=duration,
                              workdir=workdir))


@app.command("eval")
def evaluate(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the held-out figures here.")
    ] = None,
    days: Annotated[
        int | None, typer.Option(help="Use only this many days of each part.", min=1)
    ] = None,
) -> None:
    """Score the detectors on the scenario library (tuning and held-out) and the real recording."""
    from rig.eval import run_eval

    run_eval(json_path=json_path, days=days)


if __name__ == "__main__":
    app()
