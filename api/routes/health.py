from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.exc import SQLAlchemyError

from api.auth import Session
from api.migrate import at_head
from api.schemas.common import Schema

router = APIRouter(tags=["health"])


class Health(Schema):
    status: str = Field(examples=["ok"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}})
async def readyz(session: Session) -> Health | JSONResponse:
    """Readiness: the database answers and its schema is at the latest migration."""
    try:
        connection = await session.connection()
        ready = await connection.run_sync(at_head)
    except (SQLAlchemyError, OSError):
        ready = False
    if not ready:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return Health(status="ok")
