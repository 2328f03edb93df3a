"""Every router of the service, in the order they appear in the OpenAPI document."""

from api.cds import routes as cds
from api.fhir import document_routes as fhir_documents
from api.fhir import routes as fhir
from api.hl7 import routes as hl7
from api.oauth import routes as oauth
from api.routes import (
    api_keys,
    audit,
    blocks,
    clinic,
    exports,
    health,
    jobs,
    letters,
    levels,
    outcomes,
    patients,
    policy,
    readings,
    referrals,
    users,
    webhooks,
)

ROUTERS = [
    health.router,
    patients.router,
    blocks.router,
    readings.router,
    outcomes.router,
    hl7.router,
    levels.router,
    letters.router,
    referrals.router,
    policy.router,
    jobs.router,
    clinic.router,
    webhooks.router,
    users.router,
    api_keys.router,
    audit.router,
    exports.router,
    fhir.router,
    fhir_documents.router,
    oauth.router,
    cds.router,
]
