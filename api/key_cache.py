"""API keys found in the database, remembered per process for a few seconds (at most 5).

Only found keys are remembered, never a miss, so a new key works at once. The process that revokes or
rotates a key forgets it at once (`forget`), and does not remember it again for the cache's lifetime, so a
request that read the key just before the revocation committed cannot put it back; other processes see
the revocation when their entry runs out. An expiry is checked on every use, cached or not.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

MAX_ENTRIES = 10_000  # a bound, not a tuning knob: past it the cache starts again empty


@dataclass(frozen=True)
class KnownKey:
    key_id: uuid.UUID
    clinic_id: uuid.UUID
    name: str
    role: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class KeyCache:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: dict[str, tuple[float, KnownKey]] = {}
        self._forgotten: dict[uuid.UUID, float] = {}

    def get(self, key_hash: str) -> KnownKey | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if self.clock() - entry[0] >= self.seconds:
            del self._entries[key_hash]
            return None
        return entry[1]

    def put(self, key_hash: str, key: KnownKey) -> None:
        """Remember a key read from the database now; an entry already there keeps its time (the 5 s
        count from the database read, not from the last use)."""
        now = self.clock()
        if (entry := self._entries.get(key_hash)) is not None and now - entry[0] < self.seconds:
            self._entries[key_hash] = (entry[0], key)
            return
        forgotten_at = self._forgotten.get(key.key_id)
        if self.seconds <= 0 or (forgotten_at is not None and now - forgotten_at < self.seconds):
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = (now, key)

    def forget(self, key_id: uuid.UUID) -> None:
        """Drop the key now (it was revoked or rotated in this process)."""
        now = self.clock()
        self._forgotten = {k: at for k, at in self._forgotten.items() if now - at < self.seconds}
        self._forgotten[key_id] = now
        self._entries = {h: e for h, e in self._entries.items() if e[1].key_id != key_id}
