"""The one settings class. Environment variables use the BLOCKTRACK_ prefix."""

from functools import lru_cache

from pydantic import Field, field_validator
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
    # Jobs (PUT /v1/policy with Prefer: respond-async), run by every server process (api/jobs/worker.py):
    # how often an idle worker looks for one, how long a claim lasts without a committed batch (a crashed
    # worker's job is claimed again after it), patients per batch (one transaction each), and how many
    # claims a job gets before it is failed (a job that keeps killing its worker must not go round forever).
    run_jobs: bool = True
    job_poll_seconds: float = 1.0
    job_lease_seconds: float = Field(default=120.0, gt=0)
    job_batch_patients: int = Field(default=200, ge=1)
    job_max_claims: int = Field(default=5, ge=1)
    idempotency_ttl_hours: float = 24.0
    # How long a keyed request may run before a retry with its key may take over, if the request has not
    # committed by then (api/idempotency.py): after a crash, a key that wrote nothing is free this soon.
    idempotency_lease_seconds: float = Field(default=60.0, gt=0)
    # The URL clients reach this service at (e.g. https://blocktrack.clinic.org), when a proxy stands in
    # front: FHIR links, the OAuth token endpoint and the CDS Hooks audience are built from it. Unset: the
    # request's own base URL.
    public_base_url: str | None = None
    # SMART Backend Services: lifetime of an access token (at most an hour) and the furthest `exp` accepted
    # on a client assertion or CDS Hooks JWT.
    oauth_token_ttl_seconds: int = Field(default=300, ge=60, le=3600)
    jwt_max_lifetime_seconds: int = 300
    # Staff workspace: a signed-in session ends after this long without a request.
    session_idle_minutes: float = 30.0
    # Rate limits, shared by every server process through the rate_limit_bucket table (api/rate_limit.py).
    # Each API key (an OAuth client's access tokens count against its backing key): this many requests a
    # second, after a burst of this many at once.
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # Each client address: this many failed or missing authentications within the window, then every
    # attempt without a valid key from it is answered 429 for the lockout; the allowance comes back at
    # one failure per window. No address is exempt.
    auth_failure_limit: int = Field(default=20, ge=1)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0)
    auth_failure_lockout_seconds: float = Field(default=60.0, ge=0)
    # A found API key is trusted from a per-process cache for at most this long (a revocation reaches the
    # other processes within it; the process that revokes forgets the key at once).
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=5)
    # A rotated key keeps working this long beside its replacement.
    key_rotation_grace_hours: float = Field(default=24.0, ge=0)
    # Requests: the largest body accepted (413 beyond, counted as it arrives, before authentication) and
    # how long a body may take to arrive in full (408 after).
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    body_read_timeout_seconds: float = Field(default=30.0, gt=0)
    # `blocktrack serve` (uvicorn), per server process: an idle keep-alive connection is closed after
    # keep_alive_seconds; beyond max_concurrency open connections and requests, new requests get 503; on
    # shutdown, requests in flight get graceful_shutdown_seconds to finish.
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_concurrency: int = Field(default=1000, ge=1)
    graceful_shutdown_seconds: int = Field(default=30, ge=0)

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
