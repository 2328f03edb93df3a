"""All tables, imported here so that Base.metadata knows every one of them."""

from models.api_key import ApiKey
from models.audit_event import AuditEvent
from models.base import Base
from models.block import Block
from models.block_target import BlockTarget
from models.block_version import BlockVersion
from models.clinic import Clinic
from models.idempotency import IdempotencyRecord
from models.job import Job
from models.level import Level
from models.oauth import CdsIssuer, OAuthClient, OAuthToken, UsedJti
from models.outcome import BlockOutcome, TargetOutcome
from models.patient import Patient
from models.policy import PolicyVersion
from models.rate_limit import RateLimitBucket
from models.reading import Reading
from models.reading_version import ReadingVersion
from models.referral import Referral
from models.user import SignInAttempt, User, UserSession
from models.webhook import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Block",
    "BlockOutcome",
    "BlockTarget",
    "BlockVersion",
    "CdsIssuer",
    "Clinic",
    "IdempotencyRecord",
    "Job",
    "Level",
    "OAuthClient",
    "OAuthToken",
    "OutboxEvent",
    "Patient",
    "PolicyVersion",
    "RateLimitBucket",
    "Reading",
    "ReadingVersion",
    "Referral",
    "SignInAttempt",
    "TargetOutcome",
    "UsedJti",
    "User",
    "UserSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
