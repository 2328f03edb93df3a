"""Opaque keyset cursors for collections: `?limit=` and `?cursor=`."""

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import invalid

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")]
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` from the previous page.")]


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, row_id = json.loads(base64.urlsafe_b64decode(padded))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:  # every cursor this API makes carries an offset
            raise ValueError("naive cursor time")
        return when.astimezone(UTC), uuid.UUID(row_id)
    except (ValueError, TypeError, OverflowError) as exc:
        raise invalid(["query", "cursor"], "not a cursor returned by this API") from exc


async def paginate(
    session: AsyncSession, query: Select[Any], at: Any, row_id: Any, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """One page of `query` in (at, row_id) order, and the next page's cursor (None on the last page)."""
    if cursor is not None:
        after_at, after_id = decode_cursor(cursor)
        query = query.where(or_(at > after_at, and_(at == after_at, row_id > after_id)))
    rows = list((await session.scalars(query.order_by(at, row_id).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(getattr(last, at.key), getattr(last, row_id.key))
