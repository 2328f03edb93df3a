"""The clinic's outcome policy (contract: Policy; CR-21)."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.auth import Admin, Reader, Session
from api.clinical.policy import policy_to_dict
from api.etag import check_if_match, set_etag
from api.schemas.common import AUTHED, problems
from api.schemas.policy import PolicyPublic, PolicyUpdate
from api.services import policies as service
from api.services.audit import AuditLog
from api.services.evaluation import reevaluate_clinic

router = APIRouter(prefix="/v1", tags=["policy"])


@router.get("/policy", response_model=PolicyPublic, responses=problems(*AUTHED))
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


@router.put("/policy", response_model=PolicyPublic, responses=problems(*AUTHED, 409, 412))
async def put_policy(
    body: PolicyUpdate,
    session: Session,
    principal: Admin,
    audit: AuditLog,
    response: Response,
    if_match: Annotated[str | None, Header(description="The ETag of the policy you read.")] = None,
) -> PolicyPublic:
    """Make a new policy version from a profile and overrides (unset settings take the profile's
    defaults), and re-evaluate every block and level of the clinic with it in the same transaction:
    referrals open or withdraw accordingly."""
    current = PolicyPublic.model_validate(
        policy_to_dict(await service.active_policy(session, principal.clinic_id))
    )
    check_if_match(if_match, current)
    policy = await service.create_version(
        session, principal.clinic_id, principal.key_id, body.profile, body.overrides()
    )
    await reevaluate_clinic(session, principal.clinic_id, policy)
    public = PolicyPublic.model_validate(policy_to_dict(policy))
    audit.record("update", "policy", str(policy.version))
    set_etag(response, public)
    return public
