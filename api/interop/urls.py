"""The service's public URL: FHIR links, the token endpoint and the CDS Hooks audience are built from it."""

from starlette.requests import Request

FHIR_BASE = "/fhir/R4"
TOKEN_PATH = "/oauth/token"


def base_url(request: Request) -> str:
    configured = request.app.state.settings.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


def fhir_base(request: Request) -> str:
    return base_url(request) + FHIR_BASE


def token_url(request: Request) -> str:
    return base_url(request) + TOKEN_PATH
