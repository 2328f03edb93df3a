"""The OpenAPI document tells a generated client the truth: every status, content type, and examples."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

PROBLEM_JSON = "application/problem+json"
METHODS = {"get", "post", "put", "patch", "delete"}
Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def authenticated(spec: dict[str, Any]) -> list[Operation]:
    return [op for op in operations(spec) if op[2].get("security")]


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


async def test_get_openapi_successes_are_json_with_a_schema(spec: dict[str, Any]) -> None:
    wrong = [
        f"{method} {path} {status}"
        for method, path, operation in operations(spec)
        for status, response in operation["responses"].items()
        if status.startswith("2")
        and status != "204"
        and "schema" not in response.get("content", {}).get("application/json", {})
    ]
    assert wrong == []


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
