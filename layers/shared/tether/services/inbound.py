"""The inbound worker's use case: one stored webhook receipt, applied once.

The queue message names a `webhook_receipts` row (a reply, a delivery status or a
call's outcome); delivery is at least once (the
sweeper may re-send what the webhook sent), so the receipt is locked, skipped when
already processed, and marked processed in the same transaction as its effects. An
answer the reply queued goes to OutboundQueue once that transaction has committed
(if the queue fails, the sweeper sends it).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import TypeAdapter

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import NotFound
from tether.domain.events import CallOutcomeReport, CanonicalEvent, ProviderEvent, StatusUpdate
from tether.observability import logger
from tether.queues import MessageQueue
from tether.services.receipts import ReceiptMessage
from tether.services.statuses import apply_status_update

_EVENT: TypeAdapter[ProviderEvent] = TypeAdapter(CanonicalEvent)


def process_receipt(
    uow: UnitOfWork,
    message: ReceiptMessage,
    now: datetime,
    outbound: MessageQueue | None = None,
    media: MessageQueue | None = None,
) -> str:
    """Apply the receipt's event, in one transaction with the mark that it was applied;
    then hand what it left for later to its queues: an answer to OutboundQueue, inbound
    media to MediaQueue (either's failure leaves it to the sweeper). Returns what
    happened, for the log."""
    with uow:
        logger.append_keys(tenant_id=str(message.tenant_id), receipt_id=str(message.receipt_id))
        outcome, answer_id, media_ids = _apply_receipt(uow, message, now)
        uow.commit()
        # the send path, the reply path and media load on the branch that needs them: a
        # delivery status, most receipts, needs none of them (a shorter cold start)
        if answer_id is not None and outbound is not None:
            from tether.services.outbound import enqueue_sends

            enqueue_sends(uow, outbound, [(message.tenant_id, answer_id)], now)
            uow.commit()
        if media_ids and media is not None:
            from tether.services.media import enqueue_copies

            enqueue_copies(uow, media, [(message.tenant_id, m) for m in media_ids], now)
            uow.commit()
    return outcome


def _apply_receipt(
    uow: UnitOfWork, message: ReceiptMessage, now: datetime
) -> tuple[str, UUID | None, tuple[UUID, ...]]:
    """The receipt's effects and its mark, or nothing when it was applied before: the
    effects commit with the mark, so a crash in between replays both or neither. Also
    the answer a reply queued, if any."""
    receipt = uow.webhook_receipts.lock_for_processing(message.receipt_id)
    if receipt is None:
        raise NotFound("webhook receipt", message.receipt_id)
    if receipt.processed_at is not None:
        return "already processed", None, ()
    if not receipt.applicable:
        uow.webhook_receipts.mark_processed(message.receipt_id, now)
        return "unknown event: kept, nothing to apply", None, ()
    event = _EVENT.validate_python(receipt.event)
    answer_id: UUID | None = None
    media_ids: tuple[UUID, ...] = ()
    if isinstance(event, StatusUpdate):
        applied = apply_status_update(uow, message.tenant_id, event, message.receipt_id, now)
        outcome = f"status {applied.outcome.value}"
    elif isinstance(event, CallOutcomeReport):
        from tether.services.call_outcomes import apply_call_report

        outcome = apply_call_report(uow, message.tenant_id, event, message.receipt_id, now)
    elif event.channel == "email":
        from tether.services.email_replies import apply_email_reply

        handled = apply_email_reply(uow, message.tenant_id, event, message.receipt_id, now)
        outcome = f"email {handled.outcome.value}"
    else:
        from tether.services.replies import apply_reply

        handled = apply_reply(uow, message.tenant_id, event, message.receipt_id, now)
        outcome, answer_id = f"reply {handled.outcome.value}", handled.answer_id
        media_ids = handled.media_ids
    uow.webhook_receipts.mark_processed(message.receipt_id, now)
    return outcome, answer_id, media_ids
