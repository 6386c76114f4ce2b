"""Alembic's environment for the hub: migrate the connection `hub.migrations` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from hub.db import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic -x url=...` from a shell, for writing a new migration
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///hub.sqlite")
    with create_engine(url).begin() as own:
        _run(own)
