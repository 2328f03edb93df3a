"""An unexpected error is answered 500 problem+json and logged by type and request id, never its message."""

import logging

import httpx
import pytest
from fastapi import FastAPI


async def test_get_failing_route_logs_type_not_message(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def fail(patient_ref: str) -> None:
        raise ValueError(f"score 7 for {patient_ref}")  # a message with values in it, as SQL errors have

    app.add_api_route("/v1/test-fail/{patient_ref}", fail)
    with caplog.at_level(logging.INFO, logger="blocktrack"):
        response = await client.get(
            "/v1/test-fail/SECRET-MRN-9?mrn=SECRET-MRN-9", headers={"X-Request-ID": "r-9"}
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "An unexpected error occurred; it has been logged."
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unexpected builtins.ValueError (request r-9)" in logged
    assert "test_error_logs.py" in logged  # where it was raised
    assert "GET /v1/test-fail/{patient_ref} 500" in logged
    assert "SECRET-MRN-9" not in logged and "score 7" not in logged
