"""The one settings class. Environment variables use the BLOCKTRACK_ prefix."""

from functools import lru_cache

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """Map a plain `sqlite:///` or `postgresql://` URL onto its async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed.set(drivername=ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BLOCKTRACK_")

    database_url: str = "sqlite:///./blocktrack.db"
    # Webhook delivery (Standard Webhooks): retry with backoff for this long, then mark failed.
    webhook_retry_hours: float = 24.0
    webhook_timeout_seconds: float = 5.0
    webhook_max_response_bytes: int = 65536
    webhook_poll_seconds: float = 1.0
    # Full-jitter exponential backoff: retry n waits uniform(0, min(cap, base * 2**(n-1))) seconds.
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_cap_seconds: float = 3600.0
    run_deliverer: bool = True
    idempotency_ttl_hours: float = 24.0

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            async_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {exc}") from exc
        return value

    @property
    def async_database_url(self) -> str:
        return async_url(self.database_url)


@lru_cache
def get_settings() -> Settings:
    return Settings()
