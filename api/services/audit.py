"""The audit trail: one append-only row per read, search or write of clinical data.

Rows are added to the request's own session, so a write's audit row commits or rolls back with it.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, Session, get_principal
from models import AuditEvent


@dataclass
class Audit:
    session: AsyncSession
    principal: Principal
    request_id: str | None
    client_addr: str | None

    def record(
        self,
        action: str,
        resource_type: str,
        resource_id: uuid.UUID | str | None = None,
        result_ids: Iterable[uuid.UUID | str] | None = None,
        patient_id: uuid.UUID | None = None,
    ) -> None:
        """Add one audit row, e.g. `audit.record("read", "block", block.id, patient_id=block.patient_id)`.

        `patient_id` names the patient whose record was touched, for "who looked at this patient"."""
        self.session.add(
            AuditEvent(
                clinic_id=self.principal.clinic_id,
                actor_key_id=self.principal.key_id,
                actor_user_id=self.principal.user_id,
                actor_name=self.principal.key_name,
                role=self.principal.role,
                action=action,
                resource_type=resource_type,
                resource_id=None if resource_id is None else str(resource_id),
                result_ids=None if result_ids is None else [str(i) for i in result_ids],
                request_id=self.request_id,
                client_addr=self.client_addr,
                patient_id=patient_id,
            )
        )


def record_command(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID,
    command: str,
) -> None:
    """An audit row for a change made on the command line: no API key, the command stands as the actor."""
    session.add(
        AuditEvent(
            clinic_id=clinic_id,
            actor_key_id=None,
            actor_name=command,
            role=None,
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id),
        )
    )


def record_attempt(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    action: str,
    user_id: uuid.UUID,
    email: str,
    request_id: str | None,
    client_addr: str | None,
) -> None:
    """A sign-in attempt that did not sign in (failed, locked out): no one is authenticated, so the
    actor is named by the email typed, and the row is about the user that email belongs to."""
    session.add(
        AuditEvent(
            clinic_id=clinic_id,
            actor_name=f"sign-in as {email}"[:200],
            action=action,
            resource_type="user",
            resource_id=str(user_id),
            request_id=request_id,
            client_addr=client_addr,
        )
    )


def get_audit(
    request: Request, session: Session, principal: Annotated[Principal, Depends(get_principal)]
) -> Audit:
    client = request.client.host if request.client else None
    return Audit(session, principal, getattr(request.state, "request_id", None), client)


AuditLog = Annotated[Audit, Depends(get_audit)]
