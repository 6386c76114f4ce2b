"""Load a TOML config file into a pydantic model; every error names the file and the key."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


def key_path(loc: Iterable[int | str], skip: Iterable[str] = ()) -> str:
    """Render a pydantic error location as a TOML key path, e.g. `devices[0].baudrate`."""
    skipped = set(skip)
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in skipped:  # a discriminated union's branch name is not a key in the file
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def load_toml_model(path: Path | str, model: type[M], *, skip_keys: Iterable[str] = ()) -> M:
    """Read `path` as TOML and validate it as `model`; raise ConfigError naming file and key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                # The message is about the discriminating key: name it.
                loc += (str(error.get("ctx", {}).get("discriminator", "type")).strip("'"),)
            problems.append(f"{path}: {key_path(loc, skip_keys)}: {error['msg']}")
        raise ConfigError("\n".join(problems)) from exc


def resolve(base: Path, value: Path) -> Path:
    """Return `value` resolved against the config file's folder when relative."""
    return value if value.is_absolute() else base / value


def write_private(path: Path, data: str | bytes) -> None:
    """Write `data` to `path`, readable by its owner only (0600), replacing what was there.

    For passwords, keys and personal data: the file is never readable by others, not even
    for a moment, and an existing file is made private too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(fd, "wb") as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)
