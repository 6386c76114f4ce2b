"""The `bedwatch` command: run the edge agent, the hub, device simulators, the demo and the
detector evaluation."""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path
from typing import Annotated

import typer

from bedwatch.i18n import both
from dashboards.cli import app as dashboards_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
edge_app = typer.Typer(no_args_is_help=True, help="The agent that runs in the elder's home.")
hub_app = typer.Typer(no_args_is_help=True, help="The care organisation's central service.")
app.add_typer(edge_app, name="edge")
app.add_typer(hub_app, name="hub")
app.add_typer(dashboards_app, name="dashboards")  # Grafana's SDK loads inside its commands

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="TOML config file.", exists=False, dir_okay=False)
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Lines that say nothing to whoever reads the log: one per HTTP request to InfluxDB (the
    # hub's writer logs failures itself, once per outage) and Alembic's set-up of its plugins
    # (its migrations still say what they do).
    for name in ("httpx", "httpcore", "urllib3", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _error(exc: object) -> None:
    """Print why a command failed: the label in Chinese and English, then the reason."""
    typer.echo(both("error") + f": {exc}", err=True)


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
        _error(exc)
        raise typer.Exit(2) from exc
    typer.echo(f"{config}: " + both("home {home}, {n} device(s)", home=loaded.home,
                                    n=len(loaded.devices)))
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
    """Validate a hub config file and the registry in its database: exit 2 on a contact URL
    that cannot deliver; warn of stations without a backup, gaps in the coming week's rota
    and people nobody can reach."""
    import time

    from hub.checks import check_database
    from hub.config import ConfigError, load_config

    try:
        loaded = load_config(config, make_secret=False)  # a check writes nothing
    except ConfigError as exc:
        _error(exc)
        raise typer.Exit(2) from exc
    typer.echo(
        f"{config}: MQTT {loaded.mqtt.host}:{loaded.mqtt.port}, InfluxDB {loaded.influx.url} "
        f"({loaded.influx.database}), API {loaded.api.host}:{loaded.api.port}, "
        f"database {loaded.database.url.split('://', 1)[0]}; the registry is in the database "
        "(`bedwatch hub registry list site`)"
    )
    findings, skipped = check_database(loaded.database.url, time.time())
    if skipped is not None:
        typer.echo(both("warning") + f": {skipped}")
        return
    errors = [f for f in findings if f.level == "error"]
    for finding in findings:
        label = both("error") if finding.level == "error" else both("warning")
        typer.echo(f"{label}: {finding.message}", err=finding.level == "error")
    typer.echo(both("registry: {errors} error(s), {warnings} warning(s)", errors=len(errors),
                    warnings=len(findings) - len(errors)))
    if errors:
        raise typer.Exit(2)


# --- hub registry commands (import-registry, sites, homes, people) ---

registry_app = typer.Typer(
    no_args_is_help=True,
    help="The registry in the hub's database: organisations, sites, homes, residents, "
         "devices, people; changes count at once, without a restart.")
hub_app.add_typer(registry_app, name="registry")
RecordKindArg = Annotated[str, typer.Argument(
    help="organisation, site, home, resident, device or person.")]
RecordId = Annotated[str, typer.Argument(help="Its id (a device: <home>/<device>).")]
FieldSets = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="field=value, repeatable; a.b=value for a nested field; a value that "
                        "is JSON (numbers, true, lists, objects) is read as JSON.")]


def _fields(sets: list[str] | None) -> dict[str, object]:
    import json

    fields: dict[str, object] = {}
    for item in sets or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: expected field=value", param_hint="--set")
        try:
            value: object = json.loads(text)
        except ValueError:
            value = text
        *parents, last = key.split(".")
        target = fields
        for part in parents:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise typer.BadParameter(f"{key!r}: {part} is not an object", param_hint="--set")
            target = nested
        target[last] = value
    return fields


def _registry_sessions(config: Path):
    """Return the hub config and a session factory of its database (upgraded to the head)."""
    from hub.config import load_config
    from hub.db import make_engine, make_sessionmaker

    loaded = load_config(config, registry_ok=True)
    return loaded, make_sessionmaker(make_engine(loaded.database.url))


def _registry_errors() -> tuple[type[Exception], ...]:
    from hub.config import ConfigError
    from hub.migrations import MigrationError
    from hub.registry import RegistryError

    return (ConfigError, MigrationError, RegistryError)


def _fail(exc: Exception) -> typer.Exit:
    _error(exc)
    return typer.Exit(2)


@hub_app.command("import-registry")
def hub_import_registry(config: ConfigOption, file: Annotated[Path, typer.Argument(
        help="TOML of registry tables ([[sites]], [[homes]], [[caregivers]], [[shifts]], "
             "[[overrides]], [[desk]], [[technicians]]); an older hub.toml as it is.")]) -> None:
    """Take a file's registry tables into the hub's database, once (upsert; the rota of its
    sites is replaced)."""
    from hub.config import load_registry
    from hub.registry import import_registry

    try:
        document = load_registry(file)
        _, sessions = _registry_sessions(config)
        with sessions() as session:
            report = import_registry(session, document)
    except _registry_errors() as exc:
        raise _fail(exc) from exc
    counts = ", ".join(f"{n} {k}" for k, n in report.counts.items())
    typer.echo(f"{file}: " + both("imported {counts}", counts=counts))


@registry_app.command("list")
def registry_list(kind: RecordKindArg, config: ConfigOption) -> None:
    """List the records of one kind: id, active or not, and a summary."""
    from hub.registry.kinds import listing

    try:
        _, sessions = _registry_sessions(config)
        with sessions() as session:
            rows = listing(session, kind)
    except _registry_errors() as exc:
        raise _fail(exc) from exc
    for key, active, summary in rows:
        typer.echo(f"{key}\t{'active' if active else 'inactive'}\t{summary}")


@registry_app.command("add")
def registry_add(kind: RecordKindArg, config: ConfigOption, sets: FieldSets = None) -> None:
    """Add a record (an absent id is made up, opaque); print its id."""
    from hub.registry.kinds import add

    try:
        _, sessions = _registry_sessions(config)
        with sessions() as session:
            row = add(session, kind, _fields(sets))
            session.commit()
            typer.echo(getattr(row, "id"))  # noqa: B009
    except _registry_errors() as exc:
        raise _fail(exc) from exc


@registry_app.command("update")
def registry_update(kind: RecordKindArg, key: RecordId, config: ConfigOption,
                    sets: FieldSets = None) -> None:
    """Change the fields given of a record; a deactivated one comes back."""
    from hub.registry.kinds import kind_of

    try:
        update = kind_of(kind).update
        _, sessions = _registry_sessions(config)
        with sessions() as session:
            assert update is not None
            update(session, key, _fields(sets))
            session.commit()
    except _registry_errors() as exc:
        raise _fail(exc) from exc
    typer.echo(both("{kind} {key} updated", kind=kind, key=key))


@registry_app.command("deactivate")
def registry_deactivate(kind: RecordKindArg, key: RecordId, config: ConfigOption) -> None:
    """Retire a record: kept for the history, out of paging at once."""
    from hub.registry import RegistryError
    from hub.registry.kinds import kind_of

    try:
        deactivate = kind_of(kind).deactivate
        if deactivate is None:
            raise RegistryError(f"a {kind} is not deactivated")
        _, sessions = _registry_sessions(config)
        with sessions() as session:
            deactivate(session, key)
            session.commit()
    except _registry_errors() as exc:
        raise _fail(exc) from exc
    typer.echo(both("{kind} {key} deactivated", kind=kind, key=key))


@registry_app.command("rota")
def registry_rota(site: Annotated[str, typer.Argument(help="Site id.")], config: ConfigOption,
                  file: Annotated[Path, typer.Argument(
                      help="TOML with the site's [[shifts]] and [[overrides]] (no `site`).")]
                  ) -> None:
    """Replace a site's rota with a file's shifts and overrides."""
    from bedwatch.configfile import load_toml_model
    from hub.registry import set_rota
    from hub.registry.models import RotaIn

    try:
        rota = load_toml_model(file, RotaIn)
        _, sessions = _registry_sessions(config)
        with sessions() as session:
            set_rota(session, site, rota)
            session.commit()
    except _registry_errors() as exc:
        raise _fail(exc) from exc
    typer.echo(both("site {site}: {shifts} shift(s), {overrides} override(s)", site=site,
                    shifts=len(rota.shifts), overrides=len(rota.overrides)))


def _with_influx(config: Path, work):
    """Run `work(session, influx)` against the hub's database and InfluxDB."""
    import httpx

    from hub.influx import InfluxError, InfluxWriter

    loaded, sessions = _registry_sessions(config)

    async def run():
        influx = InfluxWriter(loaded.influx)
        try:
            with sessions() as session:
                return await work(session, influx)
        finally:
            await influx.close()

    try:
        return asyncio.run(run())
    except (httpx.HTTPError, InfluxError) as exc:
        raise _fail(RuntimeError(f"InfluxDB did not answer, nothing was changed: {exc}")) \
            from exc


@registry_app.command("export-resident")
def registry_export_resident(
        resident: Annotated[str, typer.Argument(help="Resident id.")], config: ConfigOption,
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="Write the JSON here (mode 0600); default: stdout.")] = None
) -> None:
    """Export everything held about a resident and their home, readings included (JSON)."""
    import json

    from bedwatch.configfile import write_private
    from hub.data_rights import export_resident

    try:
        data = _with_influx(config, lambda s, i: export_resident(s, resident, i))
    except _registry_errors() as exc:
        raise _fail(exc) from exc
    text = json.dumps(data, ensure_ascii=False, indent=1, default=str)
    if output is None:
        typer.echo(text)
        return
    write_private(output, text)
    typer.echo(f"{output}: resident {resident}", err=True)


@registry_app.command("erase-resident")
def registry_erase_resident(
        resident: Annotated[str, typer.Argument(help="Resident id.")], config: ConfigOption,
        actor: Annotated[str, typer.Option(help="Who asks, for the audit.")] = "cli",
        yes: Annotated[bool, typer.Option("--yes", help="Erase without asking.")] = False
) -> None:
    """Erase a resident and their home's personal data (SQL rows, InfluxDB series)."""
    import time

    from hub.data_rights import erase_resident

    if not yes:
        typer.confirm(f"Erase resident {resident} and all data of their home?", abort=True)
    try:
        detail = _with_influx(config, lambda s, i: erase_resident(
            s, resident, i, actor=actor, now=time.time()))
    except _registry_errors() as exc:
        raise _fail(exc) from exc
    counts = ", ".join(f"{n} {k}" for k, n in detail["erased"].items())
    typer.echo(both("erased resident {resident} of home {home}: {counts}", resident=resident,
                    home=detail["home"], counts=counts))


# --- hub broker commands (enrol-home, revoke-home, broker identities) ---


def _broker_errors() -> tuple[type[Exception], ...]:
    from hub.broker import BrokerAdminError
    from hub.config import ConfigError

    return (BrokerAdminError, ConfigError, FileExistsError, ValueError, OSError)


@hub_app.command("broker-init")
def hub_broker_init(config: ConfigOption) -> None:
    """Create the hub's broker users (one per ingest lane) and write its password file."""
    from hub.enrolment import broker_init

    try:
        lanes = broker_init(config)
    except _broker_errors() as exc:
        _error(exc)
        raise typer.Exit(2) from exc
    for lane in lanes:
        typer.echo(f"broker user {lane.username} (client id {lane.client_id})")


@hub_app.command("enrol-home")
def hub_enrol_home(
    config: ConfigOption,
    out: Annotated[Path, typer.Option("--out", help="Edge config to write for the Pi.")],
    home: Annotated[str | None, typer.Option(
        "--home", help="Home id (default: a new opaque id such as h-3f9a0c1d).")] = None,
    broker_host: Annotated[str | None, typer.Option(
        help="Broker host as the Pi reaches it (default: mqtt.host).")] = None,
    broker_port: Annotated[int | None, typer.Option(
        help="Broker port as the Pi reaches it (default: mqtt.port).")] = None,
    ca_file: Annotated[str | None, typer.Option(
        help="Path on the Pi of the CA certificate that signed the broker's (implies TLS).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing --out file.")] = False,
    site: Annotated[str | None, typer.Option(
        help="Site id that serves the home (needed for a home the registry does not know).")
    ] = None,
    resident: Annotated[str | None, typer.Option(help="The resident's name.")] = None,
    address: Annotated[str, typer.Option(help="Where the caregiver goes.")] = "",
) -> None:
    """Enrol a home: its registry row, its own broker user and password, the Pi's edge config.

    A home the registry already knows keeps its row (enrolling again rotates the password).
    """
    from hub.enrolment import enrol

    def register(home_id: str) -> None:
        from hub.config import load_config
        from hub.db import Home, make_engine, make_sessionmaker
        from hub.registry import create_home
        from hub.registry.models import HomeIn, ResidentIn

        loaded = load_config(config)
        with make_sessionmaker(make_engine(loaded.database.url))() as session:
            if session.get(Home, home_id) is not None:
                return
            if site is None:
                raise ValueError(f"home {home_id} is not in the registry: give --site")
            create_home(session, HomeIn(
                id=home_id, site=site, address=address,
                resident=None if resident is None else ResidentIn(name=resident)))
            session.commit()

    try:
        credentials = enrol(config, out, home=home, broker_host=broker_host,
                            broker_port=broker_port, ca_file=ca_file, force=force,
                            register=register)
    except (*_broker_errors(), *_registry_errors()) as exc:
        _error(exc)
        raise typer.Exit(2) from exc
    typer.echo(credentials.home)


@hub_app.command("revoke-home")
def hub_revoke_home(
    config: ConfigOption,
    home: Annotated[str, typer.Argument(help="Home id to cut off.")],
) -> None:
    """Revoke a home's broker identity: it cannot connect, and its connection is cut now."""
    from hub.enrolment import revoke

    try:
        existed = revoke(config, home)
    except _broker_errors() as exc:
        _error(exc)
        raise typer.Exit(2) from exc
    typer.echo(both("revoked {home}", home=home) if existed
               else both("{home} had no broker user", home=home))



# --- hub account commands (create-admin, users, tokens) ---


def _accounts(config: Path):
    """Return a session of the hub's database (its schema brought up to date)."""
    from hub.config import ConfigError, load_config
    from hub.db import make_engine, make_sessionmaker

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        _error(exc)
        raise typer.Exit(2) from exc
    return make_sessionmaker(make_engine(loaded.database.url))()


def _account_error(exc: Exception) -> typer.Exit:
    _error(exc)
    return typer.Exit(1)


@hub_app.command("create-admin")
def hub_create_admin(
    config: ConfigOption,
    username: Annotated[str, typer.Option(help="The administrator's user name.")] = "admin",
    person: Annotated[str | None, typer.Option(
        help="The registry person (desk) they act as on alerts, if any.")] = None,
) -> None:
    """Create an administrator and print a one-time password, to be changed at first login."""
    import time

    from hub import accounts

    with _accounts(config) as session:
        try:
            user, password = accounts.create_user(session, username=username, role="admin",
                                                  now=time.time(), person_id=person)
        except accounts.AccountError as exc:
            raise _account_error(exc) from exc
        session.commit()
    typer.echo(both("created admin {username} ({id})", username=user.username, id=user.id))
    typer.echo(both("one-time password") + f": {password}")
    typer.echo(both("log in (POST /api/auth/token) and change it (POST /api/auth/password) "
                    "first"))


@hub_app.command("add-user")
def hub_add_user(
    config: ConfigOption,
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="admin, desk, caregiver, family or integration.")],
    person: Annotated[str | None, typer.Option(help="Registry person they act as.")] = None,
    site: Annotated[list[str] | None, typer.Option(
        help="Station served (repeat); a caregiver's own when none.")] = None,
    home: Annotated[str | None, typer.Option(help="Family: the resident's home.")] = None,
) -> None:
    """Create a user and print their one-time password."""
    import time

    from hub import accounts

    with _accounts(config) as session:
        try:
            user, password = accounts.create_user(session, username=username, role=role,
                                                  now=time.time(), person_id=person,
                                                  sites=site or [], home=home)
        except accounts.AccountError as exc:
            raise _account_error(exc) from exc
        session.commit()
    typer.echo(both("created {role} {username} ({id})", role=user.role,
                    username=user.username, id=user.id))
    typer.echo(both("one-time password") + f": {password}")


@hub_app.command("list-users")
def hub_list_users(config: ConfigOption) -> None:
    """List the users (never their passwords)."""
    from sqlalchemy import select

    from hub.accounts import User

    with _accounts(config) as session:
        for user in session.scalars(select(User).order_by(User.username)):
            state = "active" if user.active else "inactive"
            if user.must_change_password:
                state += ", one-time password"
            typer.echo(f"{user.id}  {user.username}  {user.role}  person={user.person_id or '-'}"
                       f"  ({state})")


@hub_app.command("issue-token")
def hub_issue_token(
    config: ConfigOption,
    label: Annotated[str, typer.Option(help="What uses the token.")],
    role: Annotated[str, typer.Option(help="What it may do: integration (read).")]
    = "integration",
    site: Annotated[list[str] | None, typer.Option(
        help="Station it sees (repeat); every home when none.")] = None,
    expires_days: Annotated[float | None, typer.Option(help="Lifetime; none: until revoked.")]
    = None,
) -> None:
    """Issue an API token for an integration and print it (shown only this once)."""
    import time

    from hub import accounts

    if role != "integration":
        raise _account_error(ValueError("an API token has the role integration; people log in"))
    with _accounts(config) as session:
        row, text = accounts.issue_token(
            session, kind="integration", now=time.time(), role=role, sites=site or [],
            ttl_s=expires_days * 86400 if expires_days else None, label=label)
        session.commit()
    typer.echo(f"token {row.id} ({label}):")
    typer.echo(text)


@hub_app.command("revoke-token")
def hub_revoke_token(
    config: ConfigOption,
    token_id: Annotated[str, typer.Argument(help="The token's id (tok_...), as listed.")],
) -> None:
    """End an API token or a phone's device login at once."""
    import time

    from hub.accounts import AccessToken

    with _accounts(config) as session:
        row = session.get(AccessToken, token_id)
        if row is None:
            raise _account_error(LookupError(f"no token {token_id}"))
        row.revoked_at = row.revoked_at or time.time()
        session.commit()
    typer.echo(both("revoked {token} ({kind}, {label})", token=token_id, kind=row.kind,
                    label=row.label))



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
    sessions: Annotated[
        int | None, typer.Option(help="Use only this many strip-sensor sessions of each "
                                      "sensor kind and part.", min=1)
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the summary plot here (default: beside the "
                                       "JSON, as .png).")
    ] = None,
) -> None:
    """Score the detectors on the scenario library (tuning and held-out), across strip sensor
    kinds and sample rates, and on the real recording."""
    from rig.eval import run_eval

    run_eval(json_path=json_path, days=days, sessions=sessions, plot_path=plot)


if __name__ == "__main__":
    app()
