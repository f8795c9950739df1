"""Delivery statuses: a provider's reports applied to the message they are about.

Reports come late, twice and out of order. Each is kept in the message's history
(`message_status_events`), and the message takes it only if it moves it forward
(`tether.domain.message_status`). A report that arrives before its send's SID was
stored is parked and applied when the SID is saved. A report that reaches a terminal
status counts on the sending number's health, and an "unsubscribed" failure (Twilio
21610 and its equivalents) suppresses the recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from tether.db.messages import StatusEvent, TrackedMessage
from tether.db.unit_of_work import UnitOfWork
from tether.domain.events import StatusUpdate
from tether.domain.message_status import MessageStatus, next_status
from tether.domain.outbox import EventType, opted_out_data, status_changed_data
from tether.observability import logger
from tether.providers import ProviderErrorKind
from tether.services.numbers import record_number_delivery


class StatusOutcome(StrEnum):
    APPLIED = "applied"  # the message moved
    UNCHANGED = "unchanged"  # kept in the history; late, repeated or behind the message
    PARKED = "parked"  # the message's SID is not stored yet
    DUPLICATE = "duplicate"  # this receipt was applied before


@dataclass(frozen=True, slots=True)
class AppliedStatus:
    outcome: StatusOutcome
    status: MessageStatus | None = None


def apply_status_update(
    uow: UnitOfWork,
    tenant_id: UUID,
    update: StatusUpdate,
    receipt_id: UUID | None,
    now: datetime,
) -> AppliedStatus:
    """Keep a provider's status report and apply it to its message, as a step of the
    caller's open transaction (it never commits)."""
    event = uow.statuses.record(
        tenant_id,
        update.provider,
        update.external_id,
        update.status.value,
        update.error_code,
        update.error_reason,
        update.occurred_at,
        receipt_id,
    )
    if event is None:  # nothing was written
        return AppliedStatus(StatusOutcome.DUPLICATE)
    found = uow.messages.find_message(update.provider, update.external_id)
    if found is None:
        logger.info(
            "status parked until its send is recorded", extra={"external_id": update.external_id}
        )
        return AppliedStatus(StatusOutcome.PARKED)
    if found.lead_id is not None:
        # the lead before the message, the order a send takes them in
        uow.leads.get(found.lead_id, for_update=True)
    message = uow.messages.lock_tracked(found.id)
    status = _apply(uow, message, update.provider, [event], now)
    moved = status != MessageStatus(message.status)
    return AppliedStatus(StatusOutcome.APPLIED if moved else StatusOutcome.UNCHANGED, status)


def apply_parked_statuses(
    uow: UnitOfWork, message_id: UUID, provider: str, external_id: str, now: datetime
) -> None:
    """Apply the reports that came before this send's SID was stored. Part of the
    transaction that stores the SID (it holds the message and its lead)."""
    events = uow.statuses.parked(provider, external_id)
    if events:
        _apply(uow, uow.messages.lock_tracked(message_id), provider, events, now)


def _apply(
    uow: UnitOfWork,
    message: TrackedMessage,
    provider: str,
    events: list[StatusEvent],
    now: datetime,
) -> MessageStatus:
    current = MessageStatus(message.status)
    reached = current
    deciding: StatusEvent | None = None
    for event in events:
        moved_to = next_status(reached, MessageStatus(event.status))
        if moved_to != reached:
            reached, deciding = moved_to, event
    uow.statuses.attach([event.id for event in events], message.id, now)
    if deciding is None:
        return current
    uow.messages.move_status(
        message.id, reached.value, deciding.error_code, deciding.error_reason, now
    )
    # only a report that moves the message records an event: a repeat moves nothing
    uow.outbox.record(
        message.tenant_id,
        EventType.MESSAGE_STATUS_CHANGED,
        status_changed_data(
            message.id,
            message.lead_id,
            message.campaign_id,
            reached.value,
            current.value,
            deciding.error_code,
        ),
        now,
        lead_id=message.lead_id,
    )
    logger.info(
        "message status moved",
        extra={
            "message_id": str(message.id),
            "from": current.value,
            "to": reached.value,
            "code": deciding.error_code,
        },
    )
    if message.number_id is not None:
        _count_on_the_number(uow, message, provider, reached, deciding, now)
    return reached


def _count_on_the_number(
    uow: UnitOfWork,
    message: TrackedMessage,
    provider: str,
    reached: MessageStatus,
    event: StatusEvent,
    now: datetime,
) -> None:
    assert message.number_id is not None
    if reached is MessageStatus.DELIVERED:
        record_number_delivery(uow, message.tenant_id, message.number_id, "delivered", now)
        return
    if reached not in {MessageStatus.FAILED, MessageStatus.UNDELIVERED}:
        return
    from tether.providers.factory import classify_error  # the adapters, on a failure only

    kind = classify_error(provider, event.error_code)
    outcome = "filtered" if kind is ProviderErrorKind.FILTERED else "failed"
    record_number_delivery(uow, message.tenant_id, message.number_id, outcome, now)
    if kind is ProviderErrorKind.UNSUBSCRIBED and uow.suppressions.add(
        message.tenant_id,
        message.to_address,
        "carrier_block",
        keyword=event.error_code,
        source_message_id=message.id,
    ):
        uow.outbox.record(
            message.tenant_id,
            EventType.LEAD_OPTED_OUT,
            opted_out_data(
                message.lead_id,
                message.to_address,
                number_id=message.number_id,
                number=None,
                keyword=event.error_code,
                source="carrier",
            ),
            now,
            lead_id=message.lead_id,
        )
