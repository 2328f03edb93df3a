"""The OpenAPI document of the standards' operations says what they really answer."""

from typing import Any

from fastapi import FastAPI

from api.interop.urls import FHIR_BASE, TOKEN_PATH


def _document(schema: dict[str, Any]) -> None:
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.get("responses", {})
            if path.startswith(FHIR_BASE):
                responses.pop("422", None)  # a bad search parameter is a 400 OperationOutcome
            if path == TOKEN_PATH:
                # No bearer key, so the Idempotency-Key machinery never runs; errors are RFC 6749's.
                responses.pop("409", None)
                responses.pop("422", None)
                parameters = [
                    p for p in operation.get("parameters", []) if p.get("name") != "Idempotency-Key"
                ]
                operation["parameters"] = parameters
                for response in responses.values():
                    response.get("headers", {}).pop("Idempotent-Replayed", None)


def document_standards(app: FastAPI) -> None:
    """Call last in create_app, after every other OpenAPI annotation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
