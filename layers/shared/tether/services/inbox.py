"""What the team works from: threads, the bell of each workspace stage, the call
queue, replies that matched no lead, and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.campaigns import WORKSPACE_STAGES
from tether.domain.errors import InvalidState, NotFound
from tether.domain.model import CallEntry, Thread
from tether.domain.outbox import EventType, reply_received_data
from tether.domain.pagination import Page, Position, RankedPosition, page_of
from tether.observability import logger, metrics
from tether.services.media import with_attachments

THREAD_MESSAGES = 200


@dataclass(frozen=True, slots=True)
class ThreadView:
    thread: Thread
    messages: list[dict[str, Any]]


def list_threads(
    uow: UnitOfWork,
    after: Position | None,
    limit: int,
    workspace_stage: str | None,
    label: str | None,
    unread: bool | None,
) -> Page[Thread]:
    with uow:
        threads = uow.threads.page(after, limit, workspace_stage, label, unread)
    return page_of(threads, limit, lambda t: (t.active_at, t.id))


def get_thread(uow: UnitOfWork, thread_id: UUID) -> ThreadView:
    with uow:  # one transaction: the thread and its messages as of one moment
        thread = uow.threads.get(thread_id)
        if thread is None:
            raise NotFound("thread", thread_id)
        return ThreadView(
            thread, with_attachments(uow, uow.threads.messages(thread_id, THREAD_MESSAGES))
        )


def list_notifications(
    uow: UnitOfWork,
    after: Position | None,
    limit: int,
    workspace_stage: str | None,
    unread: bool | None,
) -> Page[dict[str, Any]]:
    with uow:
        rows = uow.notifications.page(after, limit, workspace_stage, unread)
    return page_of(rows, limit, lambda r: (r["created_at"], r["id"]))


def mark_notification_read(uow: UnitOfWork, notification_id: UUID, now: datetime) -> dict[str, Any]:
    with uow:
        row = uow.notifications.mark_read(notification_id, now)
        if row is None:
            raise NotFound("notification", notification_id)
        uow.commit()
    return row


def unread_counts(uow: UnitOfWork, tenant_id: UUID) -> dict[str, int]:
    """The bell: unread notifications of every workspace stage (0 included)."""
    with uow:
        counts = uow.notifications.unread_counts(tenant_id)
    return {stage: counts.get(stage, 0) for stage in WORKSPACE_STAGES}


def list_call_queue(
    uow: UnitOfWork, tenant_id: UUID, after: RankedPosition | None, limit: int
) -> Page[CallEntry]:
    with uow:
        calls = uow.call_queue.page(tenant_id, after, limit)
    return page_of(calls, limit, lambda c: (c.priority, c.due_at, c.id))


def claim_next_call(
    uow: UnitOfWork, tenant_id: UUID, claimed_by: str, now: datetime
) -> CallEntry | None:
    """The next due call, claimed for `claimed_by`; None when the queue is empty."""
    with uow:
        call = uow.call_queue.claim_next(tenant_id, claimed_by, now)
        uow.commit()
    if call is not None:
        logger.info("call claimed", extra={"call_id": str(call.id), "lead_id": str(call.lead_id)})
    return call


def list_unmatched(uow: UnitOfWork, after: Position | None, limit: int) -> Page[dict[str, Any]]:
    with uow:
        rows = uow.unmatched.page(after, limit)
    return page_of(rows, limit, lambda r: (r["created_at"], r["message_id"]))


def assign_unmatched(
    uow: UnitOfWork, message_id: UUID, lead_id: UUID, now: datetime
) -> dict[str, Any]:
    """Give a reply that matched nothing to its lead: the message and its thread name the
    lead from now on, and the lead's events say who was given what."""
    # the reply path (and the send path behind it) only for this: the bell's counts, read
    # by the push on every cold start of deliver_events, need neither
    from tether.services.replies import apply_to_lead

    with uow:
        entry = uow.unmatched.lock(message_id)
        if entry is None:
            raise NotFound("unmatched reply", message_id)
        if entry.resolved_at is not None:
            raise InvalidState(f"the reply was assigned to lead {entry.resolved_lead_id} already")
        lead = uow.leads.get(lead_id, for_update=True)
        if lead is None:
            raise NotFound("lead", lead_id)
        uow.messages.assign_lead(message_id, lead_id, lead.campaign_id)
        if entry.thread_id is not None:
            uow.threads.name_lead(entry.thread_id, lead_id, lead.campaign_id)
        uow.unmatched.resolve(message_id, lead_id, now)
        uow.lead_events.append(
            lead,
            "UNMATCHED_ASSIGNED",
            f"unmatched:{message_id}",
            payload={"message_id": str(message_id)},
        )
        # classified now that it has a lead: a STOP moves it to suppressed, like any reply
        classification, state = apply_to_lead(
            uow, lead, message_id, entry.body, f"assigned:{message_id}", now
        )
        # the reply reaches its lead now (its bell rang, if at all, when it arrived)
        uow.outbox.record(
            lead.tenant_id,
            EventType.REPLY_RECEIVED,
            reply_received_data(
                lead_id=lead.id,
                campaign_id=lead.campaign_id,
                thread_id=entry.thread_id,
                message_id=message_id,
                number_id=None,
                stage=None,
                notification_id=None,
                sender=entry.from_address,
                recipient=entry.to_address,
                body=entry.body,
                classification=classification.intent.value,
                received_at=entry.received_at,
            ),
            now,
            lead_id=lead.id,
        )
        uow.commit()
    logger.info(
        "unmatched reply assigned",
        extra={
            "message_id": str(message_id),
            "lead_id": str(lead_id),
            "intent": classification.intent.value,
            "state": state.value,
        },
    )
    return {
        "message_id": message_id,
        "lead_id": lead_id,
        "thread_id": entry.thread_id,
        "assigned_at": now,
        "intent": classification.intent.value,
        "lead_state": state.value,
    }


def list_audit_log(
    uow: UnitOfWork, after: Position | None, limit: int, kind: str | None
) -> Page[dict[str, Any]]:
    with uow:
        rows = uow.audit.page(after, limit, kind)
    return page_of(rows, limit, lambda r: (r["created_at"], r["id"]))


def record_access_denied(
    uow: UnitOfWork, tenant_id: UUID, key_id: UUID, kind: str, key: object, request: str
) -> None:
    """A request named something its tenant cannot see: unknown, or another tenant's.
    The two look the same on purpose (both 404), and both leave this row."""
    with uow:
        uow.audit.record(
            "access_denied",
            tenant_id=tenant_id,
            actor=f"api_key:{key_id}",
            subject_type=kind,
            subject_id=str(key)[:200],
            detail={"request": request[:300]},
        )
        uow.commit()
    metrics.add_metric(name="ApiAccessDenied", unit="Count", value=1)
