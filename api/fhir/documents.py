"""Bundles, OperationOutcome, CapabilityStatement and SMART configuration, validated by fhir.resources."""

from collections.abc import Sequence
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from fhir.resources.R4B.operationoutcome import OperationOutcome

FHIR_JSON = "application/fhir+json"
SEARCHES = {
    "Patient": [("identifier", "token", "The MRN: `system|value` or `value`.")],
    "Procedure": [("patient", "reference", "The patient's resource id.")],
    "Observation": [("patient", "reference", "The patient's resource id.")],
    "ServiceRequest": [("patient", "reference", "The patient's resource id.")],
    "DocumentReference": [("patient", "reference", "The patient's resource id.")],
}
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    422: "invalid",
}


def searchset(
    resources: Sequence[FHIRResourceModel], total: int, base: str, self_url: str, next_url: str | None
) -> Bundle:
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries = [
        {
            "fullUrl": f"{base}/{r.get_resource_type()}/{r.id}",
            "resource": r.model_dump(mode="json"),
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    return Bundle.model_validate(
        {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries}
    )


def operation_outcome(status: int, detail: str, expressions: Sequence[str] = ()) -> OperationOutcome:
    issue: dict[str, Any] = {
        "severity": "error",
        "code": ISSUE_CODES.get(status, "exception"),
        "diagnostics": detail,
    }
    if expressions:
        issue["expression"] = list(expressions)
    return OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [issue]})


def _resource(resource_type: str) -> dict[str, Any]:
    return {
        "type": resource_type,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "versioning": "versioned",
        "readHistory": False,
        "searchParam": [
            {"name": name, "type": kind, "documentation": doc} for name, kind, doc in SEARCHES[resource_type]
        ],
    }


def capability_statement(base: str, token_url: str, version: str, date: str) -> CapabilityStatement:
    security = {
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": "token", "valueUri": token_url}],
            }
        ],
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ]
            }
        ],
        "description": "SMART Backend Services (client_credentials with private_key_jwt, RS384 or ES384) "
        "or a Blocktrack API key, as `Authorization: Bearer`.",
    }
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": date,
            "kind": "instance",
            "software": {"name": "Blocktrack", "version": version},
            "implementation": {"description": "Blocktrack FHIR R4 read API", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": security,
                    "resource": [_resource(name) for name in SEARCHES],
                }
            ],
        }
    )


def smart_configuration(token_url: str) -> dict[str, Any]:
    return {
        "token_endpoint": token_url,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": ["system/*.read", "system/*.write"],
        "capabilities": ["client-confidential-asymmetric"],
    }
