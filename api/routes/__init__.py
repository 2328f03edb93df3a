"""Every router of the service, in the order they appear in the OpenAPI document."""

from api.routes import health

ROUTERS = [health.router]
