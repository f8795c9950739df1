"""A phone number of a tenant's inventory, as the services read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    id: UUID
    tenant_id: UUID
    e164: str
    pool: str
    status: str
    assignment_status: str
    currently_assigned_to: UUID | None
    cooldown_until: datetime | None
    sent_count: int
    delivered_count: int
    failed_count: int
    filtered_count: int

    @property
    def is_leased(self) -> bool:
        return self.currently_assigned_to is not None


@dataclass(frozen=True, slots=True)
class DeliveryCounted:
    """A delivery outcome counted on a number: whether that rested it, and until when."""

    id: UUID
    e164: str
    rested: bool
    cooldown_until: datetime | None
