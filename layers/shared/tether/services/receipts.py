"""Stored webhook receipts onto the inbound queue: the message both the webhook and the
sweeper send, and the sweeper's re-drive of receipts the webhook stored but could not
enqueue (the SQS call failed after the commit)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import DependencyUnavailable
from tether.domain.events import EventType
from tether.observability import logger, metrics
from tether.queues import MessageQueue


class ReceiptMessage(BaseModel):
    """An inbound queue message: it names a webhook_receipts row, which the inbound
    function loads. Delivery to SQS is at least once (a sweep may re-send a receipt
    whose webhook sent it but could not record that), so the inbound side dedupes on
    `receipt_id`."""

    model_config = ConfigDict(frozen=True)

    tenant_id: UUID
    receipt_id: UUID
    event_type: EventType


class RedriveReport(BaseModel):
    found: int = 0
    enqueued: int = 0
    failed: int = 0


def enqueue_receipt(queue: MessageQueue, message: ReceiptMessage) -> str:
    """Put the receipt on the inbound queue. Raises DependencyUnavailable."""
    return queue.send(message.model_dump_json(), attributes={"event_type": message.event_type})


def redrive_unenqueued_receipts(
    unit_of_work: Callable[[], UnitOfWork],
    queue: MessageQueue,
    *,
    grace: timedelta,
    batch_size: int = 100,
    max_batches: int = 10,
) -> RedriveReport:
    """Enqueue every receipt stored more than `grace` ago and never enqueued, and mark it.

    The grace keeps the sweep off receipts whose webhook is still enqueueing them (it
    must exceed the webhook's timeout). Each batch is locked with SKIP LOCKED and marked
    in the same transaction that sent it, so overlapping sweeps never send a receipt
    twice. `unit_of_work` makes one unit of work (jobs role) per batch. Stops at the first queue failure; what is left waits for the next sweep.
    """
    report = RedriveReport()
    for _ in range(max_batches):
        with unit_of_work() as uow:  # a transaction per batch: its locks go with its commit
            batch = uow.webhook_receipts.lock_unenqueued(grace, batch_size)
            sent: list[UUID] = []
            try:
                for receipt in batch:
                    message = ReceiptMessage(
                        tenant_id=receipt.tenant_id,
                        receipt_id=receipt.id,
                        event_type=receipt.event_type,
                    )
                    enqueue_receipt(queue, message)
                    sent.append(receipt.id)
            except DependencyUnavailable as error:
                logger.warning("re-drive stopped: queue unavailable", extra={"error": str(error)})
            uow.webhook_receipts.mark_enqueued(sent)
            uow.commit()
        report.found += len(batch)
        report.enqueued += len(sent)
        report.failed += len(batch) - len(sent)
        if len(sent) < len(batch) or len(batch) < batch_size:
            break
    metrics.add_metric(name="ReceiptsRedriven", unit=MetricUnit.Count, value=report.enqueued)
    metrics.add_metric(name="ReceiptRedriveFailures", unit=MetricUnit.Count, value=report.failed)
    log = logger.warning if report.found else logger.info
    log("receipt sweep done", extra=report.model_dump())
    return report
