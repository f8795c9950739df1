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
