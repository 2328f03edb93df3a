"""The clinic's outcome policy (contract: Policy; CR-21)."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from api.auth import Admin, Principal, Reader, Session
from api.clinical.policy import Policy, policy_to_dict
from api.etag import check_if_match, set_etag
from api.openapi import etag
from api.prefer import RESPOND_ASYNC, preferences
from api.routes.jobs import job_headers
from api.schemas.common import AUTHED, problems
from api.schemas.jobs import JobPublic
from api.schemas.policy import PolicyPublic, PolicyUpdate
from api.services import policies as service
from api.services.audit import Audit, AuditLog
from api.services.clinic_pass import reevaluate_clinic
from api.services.jobs import job_public, start_policy_change

router = APIRouter(prefix="/v1", tags=["policy"])

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobPublic,
        "description": "With `Prefer: respond-async`: the new version is stored and its re-evaluation "
        "queued; poll the job at `Location`.",
        "headers": {
            "Location": {"description": "`/v1/jobs/{id}`", "schema": {"type": "string"}},
            "Preference-Applied": {"description": "`respond-async`", "schema": {"type": "string"}},
            "ETag": {"description": "The job's ETag (not the policy's).", "schema": {"type": "string"}},
            "Retry-After": {
                "description": "Seconds before polling the job again.",
                "schema": {"type": "string"},
            },
        },
    }
}


@router.get("/policy", response_model=PolicyPublic, responses=problems(*AUTHED) | etag())
async def get_policy(
    session: Session, principal: Reader, audit: AuditLog, response: Response
) -> PolicyPublic:
    """The active policy: the profile, its version and every setting verdicts are computed with."""
    policy = PolicyPublic.model_validate(
        policy_to_dict(await service.active_policy(session, principal.clinic_id))
    )
    audit.record("read", "policy", str(policy.version))
    set_etag(response, policy)
    return policy


@router.put(
    "/policy", response_model=PolicyPublic, responses={**ACCEPTED, **problems(*AUTHED, 409, 412), **etag()}
)
async def put_policy(
    body: PolicyUpdate,
    request: Request,
    session: Session,
    principal: Admin,
    audit: AuditLog,
    response: Response,
    if_match: Annotated[str | None, Header(description="The ETag of the policy you read.")] = None,
    prefer: Annotated[
        str | None,
        Header(
            description="`respond-async` (RFC 7240): answer 202 at once and re-evaluate in a job. "
            "A change while the clinic's previous policy job is still queued or running is a 409."
        ),
    ] = None,
) -> Any:
    """Make a new policy version from a profile and overrides (unset settings take the profile's
    defaults), and re-evaluate every block and level of the clinic with it in the same transaction:
    referrals open or withdraw accordingly. With `Prefer: respond-async` the re-evaluation runs in a
    job instead (202). A body that changes no effective setting answers 200 with the active version: no
    new version, no re-evaluation, no event, no job."""
    current = await service.active_policy(session, principal.clinic_id)
    check_if_match(if_match, PolicyPublic.model_validate(policy_to_dict(current)))
    if RESPOND_ASYNC in preferences(prefer):
        poll = request.app.state.settings.job_poll_seconds
        return await _put_policy_async(session, principal, audit, response, current, body, poll)
    policy, created = await service.create_version(
        session, principal.clinic_id, principal.key_id, body.profile, body.overrides()
    )
    if not created:  # the same effective settings: nothing written, no re-evaluation, no event
        audit.record("read", "policy", str(current.version))
        return _policy(response, current)
    await reevaluate_clinic(session, principal.clinic_id, policy, previous=current)
    audit.record("update", "policy", str(policy.version))
    return _policy(response, policy)


async def _put_policy_async(
    session: Session,
    principal: Principal,
    audit: Audit,
    response: Response,
    current: Policy,
    body: PolicyUpdate,
    poll_seconds: float,
) -> Any:
    job = await start_policy_change(session, principal, current, body.profile, body.overrides())
    if job is None:
        audit.record("read", "policy", str(current.version))  # nothing changed, nothing written
        return _policy(response, current)
    audit.record("update", "policy", str(job.params["policy_version"]))
    public = job_public(job)
    headers = {
        **job_headers(public, poll_seconds),
        "Location": f"/v1/jobs/{job.id}",
        "Preference-Applied": RESPOND_ASYNC,
    }
    return JSONResponse(public.model_dump(mode="json"), status_code=202, headers=headers)


def _policy(response: Response, policy: Policy) -> PolicyPublic:
    public = PolicyPublic.model_validate(policy_to_dict(policy))
    set_etag(response, public)
    return public
