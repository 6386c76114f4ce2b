"""`python -m bedwatch` is the `bedwatch` command."""

from bedwatch.cli import app

app()
