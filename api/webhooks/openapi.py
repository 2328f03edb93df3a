"""The webhook deliveries in the OpenAPI document (OpenAPI 3.1 `webhooks`): one per event type.

A delivery is a POST to the subscriber's URL. Its body is the event as api/services/outbox.py builds it:
`{"id", "type", "created_at", "data"}` with the referral or the block's outcome, whole. An `hl7v2`
subscription receives the same event as an HL7 v2.5.1 message instead. Either way it is signed per
Standard Webhooks (api/webhooks/signing.py) and retried until a 2xx answers or the retry window ends.
"""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.examples import example, with_examples
from api.interop.codes import HL7_MESSAGES
from api.schemas.outcomes import OutcomePublic
from api.schemas.referrals import ReferralPublic
from api.services.outbox import EVENT_TYPES
from api.webhooks.deliverer import HL7_V2

EVENT_ID = "4e0a1adc-d702-48fe-b3e7-e9524f3abf3d"
# The data each event carries, as its example file under api/examples/.
DATA_EXAMPLES = {
    "referral.recommended": "referral_open",
    "referral.withdrawn": "referral_withdrawn",
    "referral.fulfilled": "referral_fulfilled",
    "block.evaluated": "outcome",
}
DESCRIPTIONS = {
    "referral.recommended": "A level met the ablation criteria: a referral opened (or a withdrawn one "
    "came back).",
    "referral.withdrawn": "Later data took the criteria away: the referral is withdrawn, with the reason.",
    "referral.fulfilled": "An ablation was recorded at the level: the referral is fulfilled by that block.",
    "block.evaluated": "A block's outcome changed (a reading, a correction, a void or a policy change): the "
    "outcome, whole.",
}


def event_example(event_type: str) -> dict[str, Any]:
    """A delivery body of `event_type` as the outbox writes it."""
    created_at = "2026-11-20T17:33:15.912731+00:00"
    data = example(DATA_EXAMPLES[event_type])
    return {"id": EVENT_ID, "type": event_type, "created_at": created_at, "data": data}


def _event_model(event_type: str, data: type[BaseModel]) -> type[BaseModel]:
    name = "".join(part.title() for part in event_type.replace(".", "_").split("_")) + "Event"
    return create_model(
        name,
        __config__=ConfigDict(json_schema_extra=with_examples([event_example(event_type)])),
        id=(uuid.UUID, Field(description="The event's id; also the `webhook-id` header. Deduplicate on it.")),
        type=(Literal[event_type], ...),  # type: ignore[valid-type]
        created_at=(datetime, Field(description="When the change that caused it committed.")),
        data=(data, Field(description="The referral or the outcome, whole, as the API answers it.")),
    )


EVENT_MODELS = {
    event_type: _event_model(event_type, OutcomePublic if event_type == "block.evaluated" else ReferralPublic)
    for event_type in EVENT_TYPES
}

WebhookId = Annotated[
    str, Header(description="The event id (the body's `id`): the same on every retry.", examples=[EVENT_ID])
]
WebhookTimestamp = Annotated[
    str, Header(description="Unix seconds when this attempt was signed.", examples=["1795714395"])
]
WebhookSignature = Annotated[
    str,
    Header(
        description="`v1,` + base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, keyed "
        "with the base64-decoded part of the subscription's secret after `whsec_`.",
        examples=["v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
    ),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Any 2xx acknowledges the delivery; the body is not read."},
    "default": {
        "description": "Anything else (or no answer within the timeout) is retried with backoff until "
        "the retry window ends; redirects are not followed.",
    },
}


def _hl7_variant(event_type: str) -> dict[str, Any]:
    """The body an `hl7v2` subscription receives instead, where the event has an HL7 v2 message."""
    if event_type not in HL7_MESSAGES:
        return {}
    message = {"schema": {"type": "string"}, "example": example("hl7_oru")}
    return {"requestBody": {"content": {HL7_V2: message}}}


def _describe(app: FastAPI, event_type: str) -> None:
    model = EVENT_MODELS[event_type]
    description = DESCRIPTIONS[event_type]
    if event_type in HL7_MESSAGES:
        description += f" An `hl7v2` subscription receives it as an {HL7_MESSAGES[event_type]} ({HL7_V2})."

    async def deliver(
        body: model,  # type: ignore[valid-type]
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> Response:
        raise NotImplementedError  # documentation only: the deliverer sends these, nothing serves them

    app.webhooks.add_api_route(
        event_type,
        deliver,
        methods=["POST"],
        summary=event_type,
        description=description,
        response_class=Response,
        responses=_RESPONSES,
        openapi_extra=_hl7_variant(event_type),
        operation_id=f"webhook_{event_type.replace('.', '_')}",
    )


def document_webhooks(app: FastAPI) -> None:
    for event_type in EVENT_TYPES:
        _describe(app, event_type)
