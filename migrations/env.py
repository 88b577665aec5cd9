"""Alembic environment: the database is ``ISOCDS_DATABASE_URL`` unless a caller hands a URL or
a connection in (tests and the service's own migrate command do)."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection

from db import tables
from db.engine import make_engine
from db.settings import DbSettings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = tables.SQLModel.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:  # noqa: ARG001
    """Render the project's UTC timestamp type as the column type it stores."""
    if type_ == "type" and isinstance(obj, tables.UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a connection handed in, else one made from the settings."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url")
    settings = DbSettings() if url is None else DbSettings(database_url=url)
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run them against the database")
run_migrations_online()
