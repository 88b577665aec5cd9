"""Database settings (``ISOCDS_DATABASE_URL``, ``ISOCDS_DB_TIMEOUT_S``), read once at start-up."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/isocds.db"


class DbSettings(BaseSettings):
    """Where the database is and how long to wait for it."""

    model_config = SettingsConfigDict(env_prefix="ISOCDS_", frozen=True, extra="ignore")

    database_url: SecretStr = Field(
        default=SecretStr(DEFAULT_DATABASE_URL),
        description="SQLite file URL (its folder is created) or postgresql+psycopg://…",
    )
    db_timeout_s: float = Field(default=5.0, gt=0, le=300)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url.startswith("sqlite:///") or url.startswith("postgresql+psycopg://"):
            return value
        raise ValueError("must start with sqlite:/// or postgresql+psycopg://")

    @property
    def is_sqlite(self) -> bool:
        """Whether the URL is a SQLite file."""
        return self.database_url.get_secret_value().startswith("sqlite:")
