from sqlalchemy import Boolean, Double, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class RateLimitBucket(Base):
    """One row per limited caller (an API key, or a client address's failed authentications).

    The generic cell rate algorithm (GCRA): `tat` is the theoretical arrival time of the next request, in
    seconds since the epoch; a request is let through while it is at most a burst ahead of now. One
    UPSERT per request updates and answers it (api/rate_limit.py), so every server process shares it.
    On PostgreSQL the table is UNLOGGED (see its migration): a crash resets the counts, nothing else.
    """

    __tablename__ = "rate_limit_bucket"

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[float] = mapped_column(Double)
    # A failed-authentication lockout lasts until then, whatever the bucket refills meanwhile.
    blocked_until: Mapped[float] = mapped_column(Double)
    # The answer to the last request, read back by the same statement (RETURNING shows the new row only).
    allowed: Mapped[bool] = mapped_column(Boolean)
