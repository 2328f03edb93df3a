"""All tables, imported here so that Base.metadata knows every one of them."""

from models.api_key import ApiKey
from models.audit_event import AuditEvent
from models.base import Base
from models.block import Block
from models.block_target import BlockTarget
from models.clinic import Clinic
from models.idempotency import IdempotencyRecord
from models.level import Level
from models.outcome import BlockOutcome, TargetOutcome
from models.patient import Patient
from models.policy import PolicyVersion
from models.reading import Reading
from models.reading_version import ReadingVersion
from models.referral import Referral
from models.webhook import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiKey", "AuditEvent", "Base", "Block", "BlockOutcome", "BlockTarget", "Clinic",
    "IdempotencyRecord", "Level", "OutboxEvent", "Patient", "PolicyVersion", "Reading",
    "ReadingVersion", "Referral", "TargetOutcome", "WebhookAttempt", "WebhookDelivery",
    "WebhookSubscription",
]
