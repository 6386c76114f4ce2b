"""Run the edge agent without the `bedwatch` command's CLI stack: `python -m edge -c FILE`.

The same agent as `bedwatch edge run`; it skips importing typer and rich, so a restarted
agent is back on the call button sooner.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def cli(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the agent until SIGTERM and return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__)
    parser.add_argument("-c", "--config", type=Path, required=True, help="TOML config file.")
    parser.add_argument("-v", "--verbose", action="store_true", help="Log debug messages.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from edge.agent import main

    return main(args.config)


if __name__ == "__main__":
    sys.exit(cli())
