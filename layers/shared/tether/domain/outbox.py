"""Events for the customer's systems: what happened to a lead, a message, a lease or a
launch, as one versioned shape (issue 16).

An effect records its event in the same transaction (the outbox, migration 0031); after
the commit deliver_events hands it to the tenant's webhook subscriptions (signed per
Standard Webhooks), the EventBridge bus (the detail-type is the event type) and the
WebSocket connections. Each type's ``data`` is documented by its JSON Schema; a change
that breaks a receiver bumps ``version``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID


class EventType(StrEnum):
    REPLY_RECEIVED = "reply.received"
    LEAD_STATE_CHANGED = "lead.state_changed"
    LEAD_OPTED_OUT = "lead.opted_out"
    LEAD_RESUBSCRIBED = "lead.resubscribed"
    MESSAGE_STATUS_CHANGED = "message.status_changed"
    CALL_QUEUED = "call.queued"
    LEASE_ACQUIRED = "lease.acquired"
    LEASE_RELEASED = "lease.released"
    CAMPAIGN_LAUNCH_PROGRESS = "campaign.launch_progress"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One committed event. ``id`` is stable: with a subscription's id it makes the
    ``webhook-id`` a receiver dedupes on."""

    id: UUID
    tenant_id: UUID
    type: EventType
    version: int
    lead_id: UUID | None
    occurred_at: datetime
    data: Mapping[str, Any]
    relayed_at: datetime | None = None
    erased_at: datetime | None = None

    def envelope(self) -> dict[str, Any]:
        """The JSON every channel carries: webhook bodies, EventBridge detail, pushes."""
        return {
            "id": str(self.id),
            "type": self.type.value,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "data": dict(self.data),
        }


# Each event type's data, built in one place (its JSON Schema is
# schemas/events/<type>.v1.json). Ids are strings; a missing one is null.


def _id(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


def reply_received_data(
    *,
    lead_id: UUID,
    campaign_id: UUID | None,
    thread_id: UUID | None,
    message_id: UUID,
    number_id: UUID | None,
    stage: str | None,
    notification_id: UUID | None,
    sender: str,
    recipient: str,
    body: str,
    classification: str,
    received_at: datetime | None,
    channel: str = "sms",
) -> dict[str, Any]:
    """`stage` and `notification_id`: the bell it rang (null when the number it reached
    is in no campaign, or when it was given its lead by hand later). `channel`: what
    the reply came as (sms, mms, whatsapp, email)."""
    return {
        "channel": channel,
        "lead_id": str(lead_id),
        "campaign_id": _id(campaign_id),
        "thread_id": _id(thread_id),
        "message_id": str(message_id),
        "number_id": _id(number_id),
        "stage": stage,
        "notification_id": _id(notification_id),
        "from": sender,
        "to": recipient,
        "body": body,
        "classification": classification,
        "received_at": received_at.isoformat() if received_at else None,
    }


def state_changed_data(lead_id: UUID, previous: str, target: str, reason: str) -> dict[str, Any]:
    return {"lead_id": str(lead_id), "from": previous, "to": target, "reason": reason}


def resubscribed_data(lead_id: UUID, proof: Mapping[str, Any]) -> dict[str, Any]:
    return {"lead_id": str(lead_id), "proof": dict(proof)}


def opted_out_data(
    lead_id: UUID | None,
    phone: str,
    *,
    number_id: UUID | None,
    number: str | None,
    keyword: str | None,
    source: str,
) -> dict[str, Any]:
    """`phone` is the person's; `number_id`/`number` the sending number it reached or
    was suppressed for (null: tenant-wide); `source` says how (reply, carrier, manual,
    consent)."""
    return {
        "lead_id": _id(lead_id),
        "phone": phone,
        "number_id": _id(number_id),
        "number": number,
        "keyword": keyword,
        "source": source,
    }


def status_changed_data(
    message_id: UUID,
    lead_id: UUID | None,
    campaign_id: UUID | None,
    status: str,
    previous_status: str,
    error_code: str | None,
) -> dict[str, Any]:
    return {
        "message_id": str(message_id),
        "lead_id": _id(lead_id),
        "campaign_id": _id(campaign_id),
        "status": status,
        "previous_status": previous_status,
        "error_code": error_code,
    }


def call_queued_data(lead_id: UUID, call_id: UUID, priority: int, reason: str) -> dict[str, Any]:
    return {
        "lead_id": str(lead_id),
        "call_queue_id": str(call_id),
        "priority": priority,
        "reason": reason,
    }


def lease_data(
    lead_id: UUID,
    number_id: UUID,
    number: str,
    pool: str,
    *,
    release_at: datetime | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """lease.acquired names when the lease ends (`release_at`); lease.released why it
    ended (`reason`: expired, manual, or the call outcome that ended it)."""
    data: dict[str, Any] = {
        "lead_id": str(lead_id),
        "number_id": str(number_id),
        "number": number,
        "pool": pool,
    }
    if release_at is not None:
        data["release_at"] = release_at.isoformat()
    if reason is not None:
        data["reason"] = reason
    return data
