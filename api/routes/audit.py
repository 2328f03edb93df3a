"""The audit trail: admin-only search. There is deliberately no route that changes or deletes an event."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import Admin, Session
from api.errors import invalid
from api.pagination import Cursor, Limit
from api.schemas.audit import AuditEventList, AuditEventPublic, Instant, Order
from api.schemas.common import AUTHED, problems
from api.services.audit import AuditLog
from api.services.audit_query import AuditFilters, search_audit_events

router = APIRouter(prefix="/v1", tags=["audit"])

ResourceType = Annotated[
    str | None, Query(pattern=r"^[a-z_]{1,32}$", description="e.g. `patient`, `block`, `reading`.")
]
ResourceId = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9._:\-]{1,64}$", description="Events about this resource only.")
]
ActorKeyId = Annotated[uuid.UUID | None, Query(description="Events made with this API key only.")]
ActorUserId = Annotated[uuid.UUID | None, Query(description="Events made by this person (a user) only.")]
PatientId = Annotated[
    uuid.UUID | None, Query(description="Events about this patient's record: who looked at it or changed it.")
]
Since = Annotated[Instant | None, Query(description="Events at or after this time (with an offset).")]
Until = Annotated[Instant | None, Query(description="Events before this time (with an offset).")]
OrderQuery = Annotated[
    Order, Query(description="`newest_first` (default) or `oldest_first`; keep it the same while paging.")
]


@router.get("/audit-events", response_model=AuditEventList, responses=problems(*AUTHED))
async def list_audit_events(
    session: Session,
    principal: Admin,
    audit: AuditLog,
    resource_type: ResourceType = None,
    resource_id: ResourceId = None,
    actor_key_id: ActorKeyId = None,
    actor_user_id: ActorUserId = None,
    patient_id: PatientId = None,
    since: Since = None,
    until: Until = None,
    order: OrderQuery = "newest_first",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditEventList:
    """Who read, searched or changed what, in this clinic (admin only). `since` is inclusive, `until`
    exclusive. Reading the trail is itself recorded (action `search`, resource type `audit_event`)."""
    if since is not None and until is not None and since > until:
        raise invalid(["query", "until"], "must not be before since")
    filters = AuditFilters(
        resource_type, _canonical(resource_id), actor_key_id, since, until, patient_id, actor_user_id
    )
    rows, next_cursor = await search_audit_events(
        session, principal.clinic_id, filters, limit, cursor, newest_first=order == "newest_first"
    )
    page = AuditEventList(items=[AuditEventPublic.model_validate(r) for r in rows], next_cursor=next_cursor)
    audit.record("search", "audit_event", result_ids=[item.id for item in page.items])
    return page


def _canonical(resource_id: str | None) -> str | None:
    # Ids are stored in the canonical lowercase hyphenated form; accept any spelling of a UUID.
    try:
        return None if resource_id is None else str(uuid.UUID(resource_id))
    except ValueError:
        return resource_id
