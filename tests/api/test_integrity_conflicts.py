"""A uniqueness conflict that only a race can cause answers 409 problem+json naming the resource."""

import json

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from api.errors import _integrity_error
from models import PolicyVersion


def _request() -> Request:
    return Request({"type": "http", "method": "PUT", "path": "/v1/policy", "headers": [], "state": {}})


async def _duplicate_policy_version(session: AsyncSession, clinic_id: object) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        async with session.begin_nested():
            for _ in range(2):
                session.add(PolicyVersion(clinic_id=clinic_id, version=7, profile="medicare", settings={}))
                await session.flush()
    return caught.value


async def test_integrity_error_unique_conflict_is_409_naming_resource(session: AsyncSession, clinic) -> None:  # type: ignore[no-untyped-def]
    async with session.begin():
        error = await _duplicate_policy_version(session, clinic.id)
    response = await _integrity_error(_request(), error)
    body = json.loads(response.body)
    assert response.status_code == 409
    assert response.media_type == "application/problem+json"
    assert body["resource"] == "policy"
    assert "changed by another request" in body["detail"]


async def test_integrity_error_not_null_violation_stays_500(session: AsyncSession, clinic) -> None:  # type: ignore[no-untyped-def]
    # A NOT NULL or CHECK failure is a validation bug, not a race: it must stay visible as a 500.
    with pytest.raises(IntegrityError) as caught:
        async with session.begin(), session.begin_nested():
            session.add(PolicyVersion(clinic_id=clinic.id, version=8, profile=None, settings={}))
            await session.flush()
    response = await _integrity_error(_request(), caught.value)
    assert response.status_code == 500
