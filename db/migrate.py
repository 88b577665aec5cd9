"""Migrations as code: ``python -m db.migrate`` runs ``upgrade head`` (the one-off release job),
and :func:`schema_at_head` tells ``/ready`` whether the schema is current."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from db.settings import DbSettings

ROOT = Path(__file__).resolve().parents[1]


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic configuration; ``url`` overrides ``ISOCDS_DATABASE_URL``."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["configure_logger"] = False
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration found")
    return head


def schema_at_head(engine: Engine, head: str) -> bool:
    """Whether the database's schema is at ``head`` (raises when the database is unreachable)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def upgrade(url: str | None = None) -> None:
    """``alembic upgrade head`` against ``url`` (default: ``ISOCDS_DATABASE_URL``)."""
    command.upgrade(alembic_config(url), "head")


def main() -> int:
    """Run the migrations of the configured database (the same as ``python -m api migrate``)."""
    settings = DbSettings()
    upgrade(settings.database_url.get_secret_value())
    print(f"isocds: database migrated to {head_revision()}")  # noqa: T201  # a CLI
    return 0


if __name__ == "__main__":
    sys.exit(main())
