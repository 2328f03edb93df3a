"""Every router of the service, in the order they appear in the OpenAPI document."""

from api.routes import (
    audit,
    blocks,
    health,
    levels,
    outcomes,
    patients,
    policy,
    readings,
    referrals,
    webhooks,
)

ROUTERS = [
    health.router,
    patients.router,
    blocks.router,
    readings.router,
    outcomes.router,
    levels.router,
    referrals.router,
    policy.router,
    webhooks.router,
    audit.router,
]
