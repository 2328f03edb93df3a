"""CSV exports for registries and compliance: streamed, so memory stays flat at any size, and audited."""

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.auth import Admin, Reader
from api.errors import invalid
from api.examples import example
from api.routes.audit import ActorKeyId, ResourceId, ResourceType, Since, Until, _canonical
from api.schemas.common import AUTHED, problems
from api.services import exports
from api.services.audit import AuditLog
from api.services.audit_query import AuditFilters

router = APIRouter(prefix="/v1/exports", tags=["exports"])


def _csv_doc(description: str, sample: str) -> dict[int | str, dict[str, object]]:
    csv = {"schema": {"type": "string"}, "example": example(sample)}
    return {
        200: {"description": description, "content": {"text/csv": csv}},
        **problems(*AUTHED),
    }


def _attachment(body: object, name: str) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)  # type: ignore[arg-type]


@router.get(
    "/outcomes.csv",
    response_class=StreamingResponse,
    summary="Every block target's outcome, as CSV",
    responses=_csv_doc("One row per target of every block not voided, in no clinical order", "outcomes_csv"),
)
async def export_outcomes(request: Request, principal: Reader, audit: AuditLog) -> StreamingResponse:
    """For registries. Columns: `patient_mrn`, `block_id`, `performed_at`, `joint`, `side`, `agent`,
    `baseline`, `peak_relief_pct`, `sustained_relief_pct`, `relief_duration_minutes`, `required_minutes`,
    `verdict`, `level_status` (the level now), `referral_status` (the level's latest referral)."""
    audit.record("export", "outcome")
    return _attachment(exports.outcomes_csv(request.app, principal.clinic_id), "outcomes.csv")


@router.get(
    "/audit.csv",
    response_class=StreamingResponse,
    summary="The audit trail, as CSV",
    responses=_csv_doc("One row per audit event, oldest first", "audit_csv"),
)
async def export_audit(
    request: Request,
    principal: Admin,
    audit: AuditLog,
    resource_type: ResourceType = None,
    resource_id: ResourceId = None,
    actor_key_id: ActorKeyId = None,
    since: Since = None,
    until: Until = None,
) -> StreamingResponse:
    """For compliance (admin only); filtered like `GET /v1/audit-events`. The export is itself audited."""
    if since is not None and until is not None and since > until:
        raise invalid(["query", "until"], "must not be before since")
    filters = AuditFilters(resource_type, _canonical(resource_id), actor_key_id, since, until)
    audit.record("export", "audit_event")
    return _attachment(exports.audit_csv(request.app, principal.clinic_id, filters), "audit.csv")
