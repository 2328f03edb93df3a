"""Standard Webhooks signatures, checked against the specification's own example."""

import base64
import time

import pytest

from api.webhooks.signing import new_secret, sign, signed_headers
from tests.webhooks.verify import StandardWebhook, WebhookVerificationError, verify_by_hand

# The example from the Standard Webhooks reference test-suite.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_matches_specification_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_new_secret_is_whsec_base64_of_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) <= 32
    assert new_secret() != secret


def test_signed_headers_verify_like_a_receiver() -> None:
    secret, body, now = new_secret(), b'{"id":"e1","type":"block.evaluated"}', int(time.time())
    headers = signed_headers(secret, "e1", now, body)
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == "e1"
    assert headers["webhook-timestamp"] == str(now)
    assert verify_by_hand(secret, headers, body)
    assert StandardWebhook(secret).verify(body, headers) == {"id": "e1", "type": "block.evaluated"}


def test_signed_headers_tampered_body_fails_verification() -> None:
    secret, body = new_secret(), b'{"id":"e1"}'
    headers = signed_headers(secret, "e1", int(time.time()), body)
    assert not verify_by_hand(secret, headers, b'{"id":"e2"}')
    assert not verify_by_hand(new_secret(), headers, body)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        StandardWebhook(secret).verify(b'{"id":"e2"}', headers)
