"""Signature checks written the way a receiver writes them, without any code from the service."""

import base64
import hashlib
import hmac
import json
import math
import time
from typing import Any


def verify_by_hand(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What the README tells integrators to do: HMAC the raw body with the decoded secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, g) for g in given)


class WebhookVerificationError(Exception):
    pass


class StandardWebhook:
    """The `standardwebhooks` reference library's Webhook.verify algorithm, written out."""

    TOLERANCE = 5 * 60

    def __init__(self, secret: str) -> None:
        if secret.startswith("whsec_"):
            secret = secret[len("whsec_") :]
        self._secret = base64.b64decode(secret + "==")  # tolerates unpadded secrets, as the library does

    def sign(self, msg_id: str, timestamp: int, data: str) -> str:
        to_sign = f"{msg_id}.{timestamp}.{data}".encode()
        return "v1," + base64.b64encode(hmac.new(self._secret, to_sign, hashlib.sha256).digest()).decode()

    def verify(self, data: bytes | str, headers: dict[str, str]) -> Any:
        data = data if isinstance(data, str) else data.decode()
        headers = {k.lower(): v for k, v in headers.items()}
        msg_id, timestamp, signature = (
            headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
        )
        if not (msg_id and timestamp and signature):
            raise WebhookVerificationError("Missing required headers")
        try:
            sent_at = math.floor(float(timestamp))
        except ValueError as exc:
            raise WebhookVerificationError("Invalid Signature Headers") from exc
        if not (time.time() - self.TOLERANCE <= sent_at <= time.time() + self.TOLERANCE):
            raise WebhookVerificationError("Message timestamp too old or too new")
        expected = base64.b64decode(self.sign(msg_id, sent_at, data).split(",")[1])
        for versioned in signature.split(" "):
            version, sig = versioned.split(",")
            if version == "v1" and hmac.compare_digest(expected, base64.b64decode(sig)):
                return json.loads(data)
        raise WebhookVerificationError("No matching signature found")
