"""Entities: plain data with behaviour, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from tether.domain.errors import InvalidInput
from tether.domain.lead_state import LeadState, transition


@dataclass(frozen=True, slots=True)
class Lead:
    id: UUID
    tenant_id: UUID
    campaign_id: UUID | None
    phone: str
    state: LeadState
    email: str | None = None
    # what a template may say of the lead (loaded where texts are made)
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    custom_fields: Mapping[str, str] = field(default_factory=dict)

    def moved_to(self, target: LeadState) -> Lead:
        """This lead in `target`, if the state machine allows it (else InvalidTransition)."""
        return replace(self, state=transition(self.state, target))


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """What a tenant may change of its configuration (seed 002 part 6); the columns of
    `tenant_config` the API shows. `quiet_hours_by_state` maps a state to its window,
    {"start": "HH:MM", "end": "HH:MM"}."""

    timezone: str
    default_region: str
    quiet_hours_start: time
    quiet_hours_end: time
    quiet_hours_by_state: dict[str, dict[str, str]]
    quiet_hours_wider_attested: bool
    timer_7d_days: int
    timer_14d_days: int
    timer_30d_days: int
    gold_label_priority: int
    call_priority: int
    lease_hours_without_booking: int
    lease_hours_after_appointment: int
    lease_cooldown_minutes: int
    lease_no_answer_retries: int
    send_segments_per_second: Decimal | None
    send_segments_per_day: int | None
    send_max_attempts: int
    send_validity_hours: int
    preview_max_segments: int = 3  # a preview warns past this many segments a text
    require_consent: bool = False  # campaign texts and imports need consent on record
    brand_name: str | None = None
    help_contact: str | None = None
    retain_webhook_payload_days: int = 30
    retain_message_body_days: int = 365
    retain_idempotency_days: int = 7
    reply_mailbox: str | None = None  # where email replies arrive (migration 0037)

    def check_help_identity(self) -> None:
        """A HELP reply names the sender and a contact (CTIA): a campaign may not go out
        while either is missing (InvalidInput, 422, naming what is missing)."""
        missing = [
            name
            for name, value in (
                ("brand_name", self.brand_name),
                ("help_contact", self.help_contact),
            )
            if not (value and value.strip())
        ]
        if missing:
            raise InvalidInput(
                f"set {' and '.join(missing)} in /v1/settings before launching:"
                " a HELP reply must name the sender and a contact"
            )


@dataclass(frozen=True, slots=True)
class Thread:
    """One conversation: a tenant's address and the other party's on one channel
    (seed 003), with the lead and campaign it belongs to and its insight."""

    id: UUID
    channel: str
    our_address: str
    their_address: str
    lead_id: UUID | None
    campaign_id: UUID | None
    workspace_stage: str | None
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    unread_count: int
    label: str | None
    next_step: str | None
    next_followup_at: datetime | None
    summary: str | None
    created_at: datetime

    @property
    def active_at(self) -> datetime:
        """When it last moved: its last message, else its making (the list's order)."""
        return self.last_message_at or self.created_at


@dataclass(frozen=True, slots=True)
class CallEntry:
    """A lead waiting in the call queue (or claimed by an agent), with who it is."""

    id: UUID
    lead_id: UUID
    lead_phone: str
    first_name: str | None
    last_name: str | None
    priority: int
    reason: str
    status: str
    due_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """What a matched reply's follow-through needs beyond its lead: the campaign's
    workspace stage and pool, the worker the reply belongs to (its number's, else its
    campaign's), the tenant's call priorities, and the lead's email on file."""

    workspace_stage: str
    pool: str
    ai_worker: str
    gold_label_priority: int
    call_priority: int
    lead_email: str | None


@dataclass(frozen=True, slots=True)
class UnmatchedReply:
    """A reply parked because it matched no lead, and whether it was given one since."""

    message_id: UUID
    thread_id: UUID | None
    body: str
    resolved_at: datetime | None
    resolved_lead_id: UUID | None
    from_address: str = ""
    to_address: str = ""
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReceiptToApply:
    """A stored webhook receipt as the inbound worker reads it (locked)."""

    id: UUID
    processed_at: datetime | None
    event_type: str
    event: dict[str, Any] | None

    @property
    def applicable(self) -> bool:
        """False when there is nothing to apply: an event no parser knew."""
        return self.event is not None and self.event_type != "unknown"


@dataclass(frozen=True, slots=True)
class AccountSecrets:
    """A provider account's provider and the names of its secrets (never their values)."""

    provider: str
    signing_secret_ref: str | None
    credentials_ref: str | None


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as the services read it (never its hash)."""

    id: UUID
    name: str
    prefix: str
    scope: str
    created_by_key_id: UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class LiveKey:
    """The live key a request presented, found by its hash."""

    id: UUID
    tenant_id: UUID
    scope: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The first request under an Idempotency-Key, and its response once it has one."""

    request_hash: str
    status_code: int | None
    response: Any
    completed_at: datetime | None
