from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from api.auth import Session
from api.examples import example, schema_examples
from api.migrate import at_head, outcomes_current
from api.schemas.common import Schema

router = APIRouter(tags=["health"])


class Health(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("health"))

    status: str = Field(examples=["ok"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


_NOT_READY = {"application/json": {"example": example("not_ready")}}


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready", "content": _NOT_READY}},
)
async def readyz(session: Session) -> Health | JSONResponse:
    """Readiness: the database answers, its schema is at the latest migration, and every clinic's stored
    outcomes follow the current clinical rules (`blocktrack migrate` re-evaluates them after an upgrade)."""
    try:
        connection = await session.connection()
        ready = await connection.run_sync(at_head) and await connection.run_sync(outcomes_current)
    except (SQLAlchemyError, OSError):
        ready = False
    if not ready:
        # Load balancers and orchestrators poll; Retry-After says when asking again is worth it.
        return JSONResponse({"status": "unavailable"}, status_code=503, headers={"Retry-After": "5"})
    return Health(status="ok")
