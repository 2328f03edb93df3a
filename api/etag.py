"""Strong ETags derived from a resource's public representation, and If-Match checks."""

import hashlib

from fastapi import Response
from pydantic import BaseModel

from api.errors import PreconditionFailed


def etag_for(resource: BaseModel) -> str:
    digest = hashlib.sha256(resource.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def set_etag(response: Response, resource: BaseModel) -> None:
    response.headers["ETag"] = etag_for(resource)


def check_if_match(if_match: str | None, current: BaseModel) -> None:
    """Raise 412 when the client's If-Match names a representation that is no longer current."""
    if if_match is None:
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and etag_for(current) not in wanted:
        raise PreconditionFailed(
            "The resource changed since you read it (If-Match does not match the current ETag); "
            "read it again and retry.",
            current_etag=etag_for(current),
        )
