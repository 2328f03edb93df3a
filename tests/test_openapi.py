"""The OpenAPI document tells a generated client the truth: every status, content type, and examples."""

import json
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fhir.resources.R4B import get_fhir_model_class

from api.app import create_app
from api.examples import example
from api.interop.codes import HL7_MESSAGES
from api.openapi import title
from api.services.outbox import EVENT_TYPES
from api.settings import Settings

PROBLEM_JSON = "application/problem+json"
METHODS = {"get", "post", "put", "patch", "delete"}
# Standards with error bodies of their own: FHIR answers OperationOutcome, OAuth RFC 6749 errors.
NATIVE_ERRORS = {"/fhir/": "application/fhir+json", "/oauth/": "application/json"}
# Successes that are not JSON: the standards' own media types and CSV.
DOCUMENT_TYPES = {"text/html", "application/pdf"}  # the outcome letter: a document, not JSON
NON_JSON = {"application/fhir+json", "application/hl7-v2", "text/csv", *DOCUMENT_TYPES}
Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def spec(database_url: str) -> dict[str, Any]:
    """The document as /openapi.json serves it, built once for the module (it takes seconds)."""
    app = create_app(Settings(database_url=database_url, run_deliverer=False))
    return dict(json.loads(json.dumps(app.openapi())))


def native(path: str) -> str | None:
    return next((media for prefix, media in NATIVE_ERRORS.items() if path.startswith(prefix)), None)


def operations(spec: dict[str, Any], with_native: bool = False) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        if native(path) and not with_native:
            continue
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def authenticated(spec: dict[str, Any]) -> list[Operation]:
    # CDS Hooks callers authenticate with the EHR's signed JWT, not an API key: no role, so never a 403.
    return [op for op in operations(spec) if op[2].get("security") and not op[1].startswith("/cds-services")]


def undocumented_problems(spec: dict[str, Any], wanted: dict[str, list[Operation]]) -> list[str]:
    """`METHOD path status` for each wanted status not documented as problem+json (and only that)."""
    missing = []
    for status, ops in wanted.items():
        for method, path, operation in ops:
            content = operation["responses"].get(status, {}).get("content", {})
            if set(content) != {PROBLEM_JSON} or "schema" not in content[PROBLEM_JSON]:
                missing.append(f"{method} {path} {status}")
    return missing


async def test_get_openapi_every_authenticated_operation_documents_401_403_422(spec: dict[str, Any]) -> None:
    ops = authenticated(spec)
    assert len(ops) > 20
    assert undocumented_problems(spec, {code: ops for code in ("401", "403", "422")}) == []


async def test_get_openapi_operations_on_an_id_document_404(spec: dict[str, Any]) -> None:
    ops = [op for op in authenticated(spec) if "{" in op[1]]
    assert undocumented_problems(spec, {"404": ops}) == []


async def test_get_openapi_posts_document_409_and_writes_with_if_match_412(spec: dict[str, Any]) -> None:
    # Any POST may meet an Idempotency-Key still in flight (409); PATCH and PUT honour If-Match (412).
    posts = [op for op in authenticated(spec) if op[0] == "POST"]
    conditional = [op for op in authenticated(spec) if op[0] in {"PATCH", "PUT"}]
    assert undocumented_problems(spec, {"409": posts, "412": conditional}) == []


async def test_get_openapi_errors_are_only_problem_json(spec: dict[str, Any]) -> None:
    wrong = [
        f"{method} {path} {status} {sorted(response.get('content', {}))}"
        for method, path, operation in operations(spec)
        for status, response in operation["responses"].items()
        if status.startswith("4") and set(response.get("content", {})) != {PROBLEM_JSON}
    ]
    assert wrong == []


def _media(response: dict[str, Any]) -> str:
    other = set(response.get("content", {})) & NON_JSON
    return other.pop() if other else "application/json"


async def test_get_openapi_successes_are_json_with_a_schema(spec: dict[str, Any]) -> None:
    wrong = [
        f"{method} {path} {status}"
        for method, path, operation in operations(spec, with_native=True)
        for status, response in operation["responses"].items()
        if status.startswith("2")
        and status != "204"
        and "schema" not in response.get("content", {}).get(_media(response), {})
    ]
    assert wrong == []


async def test_get_openapi_standards_document_their_own_errors(spec: dict[str, Any]) -> None:
    ops = [op for op in operations(spec, with_native=True) if native(op[1])]
    assert len(ops) >= 9
    wrong = [
        f"{method} {path} {status}"
        for method, path, operation in ops
        for status, response in operation["responses"].items()
        if status.startswith("4") and set(response.get("content", {})) != {native(path)}
    ]
    assert wrong == []


async def test_get_openapi_letter_documents_html_and_pdf(spec: dict[str, Any]) -> None:
    letter = spec["paths"]["/v1/patients/{patient_id}/levels/{joint}/{side}/letter"]["get"]
    assert set(letter["responses"]["200"]["content"]) == DOCUMENT_TYPES


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def public_schemas(spec: dict[str, Any]) -> set[str]:
    """Component schemas reachable from a request body or a 2xx response."""
    schemas = spec["components"]["schemas"]
    roots = []
    for _method, _path, operation in operations(spec):
        roots.append(operation.get("requestBody", {}))
        roots += [response for status, response in operation["responses"].items() if status.startswith("2")]
    seen: set[str] = set()
    todo = [name for root in roots for name in _refs(root)]
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo += list(_refs(schemas[name]))
    return seen


def _self_explaining(prop: dict[str, Any]) -> bool:
    """Values whose schema already shows their form: ids, timestamps, enums, booleans, nested schemas."""
    if "example" in prop or "examples" in prop or "$ref" in prop or "enum" in prop or "const" in prop:
        return True
    if prop.get("format") in {"uuid", "date-time"} or prop.get("type") in {"boolean", "null"}:
        return True
    if "anyOf" in prop:
        return all(_self_explaining(branch) for branch in prop["anyOf"])
    return prop.get("type") == "array" and _self_explaining(prop.get("items", {}))


def _bodies_with_examples(spec: dict[str, Any]) -> set[str]:
    """Schemas whose request body carries whole examples at the operation level."""
    names = set()
    for _method, _path, operation in operations(spec):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        if content.get("examples") or content.get("example"):
            names |= set(_refs(content.get("schema", {})))
    return names


async def test_get_openapi_public_properties_have_examples(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    exempt = _bodies_with_examples(spec)
    missing = [
        f"{name}.{prop}"
        for name in sorted(public_schemas(spec) - exempt)
        for prop, definition in schemas[name].get("properties", {}).items()
        if not _self_explaining(definition)
    ]
    assert missing == []


# The document teaches (issue 11): every body and answer has an example that fits its schema, every error
# example says its own status, and the headers are documented where they apply.
REQUEST_ID, LOCATION, RETRY_AFTER, ETAG = "x-request-id", "location", "retry-after", "etag"
# Standards whose POSTs are not ours to key: RFC 6749's token endpoint and the CDS Hooks service.
UNKEYED_POSTS = ("/oauth/", "/cds-services/")
SIGNATURE_HEADERS = {"webhook-id", "webhook-timestamp", "webhook-signature"}


def _component(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The model a schema names, also when the body is optional (`anyOf: [{"$ref"}, {"type": "null"}]`)."""
    refs = [branch["$ref"] for branch in [schema, *schema.get("anyOf", [])] if "$ref" in branch]
    return dict(spec["components"]["schemas"][refs[0].rsplit("/", 1)[-1]]) if refs else schema


def examples_of(spec: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The media type's own examples, else its model's whole-object examples (`json_schema_extra`)."""
    if "example" in media:
        return [media["example"]]
    if media.get("examples"):
        return [named["value"] for named in media["examples"].values()]
    return list(_component(spec, media.get("schema", {})).get("examples", []))


def _bodies(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, status or "request", media) for every request body and response of every operation."""
    for method, path, operation in operations(spec, with_native=True):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            yield f"{method} {path} request {media_type}", "request", media
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                yield f"{method} {path} {status} {media_type}", status, media


def _headers(response: dict[str, Any]) -> set[str]:
    return {name.lower() for name in response.get("headers", {})}


def _header_params(operation: dict[str, Any]) -> set[str]:
    return {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}


async def test_get_openapi_every_body_and_answer_has_an_example(spec: dict[str, Any]) -> None:
    binary = lambda media: media.get("schema", {}).get("format") == "binary"  # noqa: E731 - a PDF
    missing = [
        where for where, _, media in _bodies(spec) if not binary(media) and not examples_of(spec, media)
    ]
    assert missing == []


async def test_get_openapi_examples_validate_against_their_schemas(spec: dict[str, Any]) -> None:
    wrong, checked = [], 0
    for where, _, media in _bodies(spec):
        validator = jsonschema_rs.validator_for({**media.get("schema", {}), "components": spec["components"]})
        for value in examples_of(spec, media):
            checked += 1
            wrong += [f"{where}: {error.message}" for error in validator.iter_errors(value)][:1]
    assert checked > 150
    assert wrong == []


async def test_get_openapi_fhir_examples_are_valid_resources(spec: dict[str, Any]) -> None:
    values = [v for w, _, m in _bodies(spec) if "fhir+json" in w for v in examples_of(spec, m)]
    assert len(values) >= 20
    for value in values:
        get_fhir_model_class(value["resourceType"]).model_validate(value)


def _titles(status: int) -> set[str]:
    return {HTTPStatus(status).phrase, title(status)}


async def test_get_openapi_error_examples_say_their_own_status(spec: dict[str, Any]) -> None:
    wrong, seen = [], set()
    for where, status, media in _bodies(spec):
        if PROBLEM_JSON not in where or not status.isdigit():
            continue
        for value in examples_of(spec, media):
            seen.add(status)
            if (
                value["status"] != int(status)
                or value["title"] not in _titles(int(status))
                or not value["detail"]
            ):
                wrong.append(f"{where}: {value['status']} {value['title']}")
    assert {"401", "403", "404", "409", "412", "422", "503"} <= seen
    assert wrong == []


async def test_get_openapi_every_answer_documents_x_request_id(spec: dict[str, Any]) -> None:
    missing = [
        f"{method} {path} {status}"
        for method, path, operation in operations(spec, with_native=True)
        for status, response in operation["responses"].items()
        if REQUEST_ID not in _headers(response)
    ]
    assert missing == []


async def test_get_openapi_created_accepted_throttled_unavailable_document_their_headers(
    spec: dict[str, Any],
) -> None:
    wanted = {"201": LOCATION, "202": LOCATION, "429": RETRY_AFTER, "503": RETRY_AFTER}
    missing = [
        f"{method} {path} {status} {wanted[status]}"
        for method, path, operation in operations(spec, with_native=True)
        for status, response in operation["responses"].items()
        if status in wanted and wanted[status] not in _headers(response)
    ]
    assert missing == []


async def test_get_openapi_operations_on_the_database_document_503(spec: dict[str, Any]) -> None:
    # Anything that checks a key reads the database, and a lost connection is a 503 with Retry-After.
    ops = [op for op in operations(spec, with_native=True) if "401" in op[2]["responses"]]
    assert [
        f"{method} {path}" for method, path, operation in ops if "503" not in operation["responses"]
    ] == []


async def test_get_openapi_posts_document_idempotency_key(spec: dict[str, Any]) -> None:
    posts = [op for op in operations(spec) if op[0] == "POST" and not op[1].startswith(UNKEYED_POSTS)]
    assert [path for _, path, op in posts if "idempotency-key" not in _header_params(op)] == []


async def test_get_openapi_versioned_resources_document_if_match_and_etag(spec: dict[str, Any]) -> None:
    ops = list(operations(spec))
    conditional = {path for method, path, op in ops if "if-match" in _header_params(op)}
    missing = [f"{m} {p} If-Match" for m, p, op in ops if m in {"PATCH", "PUT"} and p not in conditional]
    for method, path, operation in ops:
        if path in conditional and (method == "GET" or "if-match" in _header_params(operation)):
            ok = [r for status, r in operation["responses"].items() if status.startswith("2")]
            missing += [f"{method} {path} ETag" for r in ok if ETAG not in _headers(r)]
            if method != "GET" and "412" not in operation["responses"]:
                missing.append(f"{method} {path} 412")
    assert len(conditional) >= 5
    assert missing == []


async def test_get_openapi_fhir_reads_document_etag(spec: dict[str, Any]) -> None:
    reads = [
        op for op in operations(spec, with_native=True) if op[1].startswith("/fhir/R4/") and "{" in op[1]
    ]
    assert len(reads) == 5  # Patient, Procedure, Observation, ServiceRequest, DocumentReference
    assert [path for _, path, op in reads if ETAG not in _headers(op["responses"]["200"])] == []


async def test_get_openapi_webhooks_describe_every_event_with_signature_and_example(
    spec: dict[str, Any],
) -> None:
    assert set(spec["webhooks"]) == set(EVENT_TYPES)
    for event_type, item in spec["webhooks"].items():
        operation = item["post"]
        content = operation["requestBody"]["content"]
        [envelope] = examples_of(spec, content["application/json"])
        schema = {**content["application/json"]["schema"], "components": spec["components"]}
        assert jsonschema_rs.validator_for(schema).is_valid(envelope), event_type
        assert envelope["type"] == event_type
        assert SIGNATURE_HEADERS <= _header_params(operation)
        hl7 = content.get("application/hl7-v2", {}).get("example", "")
        assert hl7.startswith("MSH|") == (event_type in HL7_MESSAGES), event_type


async def test_get_openapi_leaves_out_the_workspace_pages(spec: dict[str, Any]) -> None:
    pages = [path for path in spec["paths"] if path.startswith(("/ui", "/docs", "/redoc", "/static"))]
    assert pages == []


def _documented(spec: dict[str, Any], method: str, path: str, status: int) -> set[str]:
    # Idempotent-Replayed comes only on a replay, Retry-After only on errors.
    return _headers(spec["paths"][path][method]["responses"][str(status)]) - {"idempotent-replayed"}


async def test_post_patient_and_webhook_send_the_headers_they_document(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    spec = (await client.get("/openapi.json")).json()
    created = await client.post("/v1/patients", json=example("patient_create"), headers=admin)
    read = await client.get(created.headers["location"], headers=admin)
    hook = await client.post("/v1/webhooks", json=example("webhook_create"), headers=admin)
    assert (created.status_code, read.status_code, hook.status_code) == (201, 200, 201)
    assert _documented(spec, "post", "/v1/patients", 201) == {REQUEST_ID, LOCATION, ETAG}
    assert _documented(spec, "post", "/v1/patients", 201) <= set(created.headers)
    assert _documented(spec, "get", "/v1/patients/{patient_id}", 200) <= set(read.headers)
    assert _documented(spec, "post", "/v1/webhooks", 201) <= set(hook.headers)
    assert hook.headers["location"] == f"/v1/webhooks/{hook.json()['id']}"


async def test_get_openapi_documents_async_policy_change_and_its_job(spec: dict[str, Any]) -> None:
    put = spec["paths"]["/v1/policy"]["put"]
    accepted = put["responses"]["202"]
    job = spec["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]
    schema = spec["components"]["schemas"]["JobPublic"]

    assert {"Location", "Preference-Applied"} <= set(accepted["headers"])
    assert accepted["content"]["application/json"]["schema"]["$ref"].endswith("/JobPublic")
    assert "prefer" in {p["name"] for p in put["parameters"] if p["in"] == "header"}
    assert job["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/JobPublic")
    assert "Retry-After" in job["200"]["headers"] and "404" in job
    assert [e["status"] for e in schema["examples"]] == ["running", "succeeded"]
