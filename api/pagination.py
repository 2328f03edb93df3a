"""Opaque keyset cursors for collections: `?limit=` and `?cursor=`."""

import base64
import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query

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
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise invalid(["query", "cursor"], "not a cursor returned by this API") from exc
