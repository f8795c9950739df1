"""Moving a lead through its state machine, with its event, atomically."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import NotFound
from tether.domain.lead_state import LeadState, leaves_suppression
from tether.domain.model import Lead
from tether.domain.outbox import EventType, resubscribed_data, state_changed_data
from tether.observability import logger


def move_lead(
    uow: UnitOfWork,
    lead_id: UUID,
    target: LeadState,
    *,
    event_type: str,
    dedupe_key: str,
    payload: dict[str, Any] | None = None,
) -> Lead:
    """Move a lead to `target` and record the event, as one step of the caller's open
    transaction (it never commits). The lead's row is locked here (locking it again in
    the transaction that holds it costs nothing but a round trip).

    The event's `dedupe_key` makes this idempotent: replaying the same cause (a
    redelivered webhook, a retried job) records nothing and moves nothing. Raises
    InvalidTransition when the state machine forbids the move (the caller's transaction
    then holds the event, so it must not commit), NotFound when the lead is not the
    tenant's.
    """
    lead = uow.leads.get(lead_id, for_update=True)
    if lead is None:
        raise NotFound("lead", lead_id)
    return move_held_lead(
        uow, lead, target, event_type=event_type, dedupe_key=dedupe_key, payload=payload
    )


def move_held_lead(
    uow: UnitOfWork,
    lead: Lead,
    target: LeadState,
    *,
    event_type: str,
    dedupe_key: str,
    payload: dict[str, Any] | None = None,
) -> Lead:
    """`move_lead` of a lead whose row this transaction has locked already, as read
    under that lock (the send's hand-over takes it with the message's other locks)."""
    if (
        uow.lead_events.append(
            lead,
            event_type,
            dedupe_key,
            previous_state=lead.state,
            new_state=target,
            payload=payload,
        )
        is None
    ):
        logger.info(
            "lead event already recorded", extra={"lead_id": str(lead.id), "dedupe_key": dedupe_key}
        )
        return lead
    moved = lead.moved_to(target)  # a forbidden move raises; the event above is rolled back
    uow.leads.set_state(lead.id, lead.state, target)
    # the customer's systems hear of it through the outbox, in this same transaction
    uow.outbox.record(
        lead.tenant_id,
        EventType.LEAD_STATE_CHANGED,
        state_changed_data(lead.id, lead.state.value, target.value, event_type),
        None,
        lead_id=lead.id,
    )
    if leaves_suppression(lead.state, target):
        uow.outbox.record(
            lead.tenant_id,
            EventType.LEAD_RESUBSCRIBED,
            resubscribed_data(lead.id, payload or {}),
            None,
            lead_id=lead.id,
        )
    logger.info(
        "lead moved",
        extra={
            "lead_id": str(lead.id),
            "from": lead.state.value,
            "to": target.value,
            "event": event_type,
        },
    )
    return moved
