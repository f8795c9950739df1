"""Every minute: put on their queues what was stored but is in none: webhook receipts
the webhook could not enqueue (tether.services.receipts), and sends that are due but
were never enqueued or waited longer than a queue delay holds (tether.services.outbound)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.config import sweeper_settings
from tether.db.unit_of_work import UnitOfWork
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.outbound import redrive_waiting_sends
from tether.services.receipts import redrive_unenqueued_receipts


@lru_cache(maxsize=1)
def inbound_queue() -> MessageQueue:
    from tether.aws.sqs import SqsQueue

    return SqsQueue(sweeper_settings().inbound_queue_url)


@lru_cache(maxsize=1)
def outbound_queue() -> MessageQueue:
    from tether.aws.sqs import SqsQueue

    return SqsQueue(sweeper_settings().outbound_queue_url)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from tether.db.connection import lambda_connection

    settings = sweeper_settings()
    receipts = redrive_unenqueued_receipts(
        partial(UnitOfWork, lambda_connection("jobs")),
        inbound_queue(),
        grace=timedelta(seconds=settings.sweep_grace_seconds),
        batch_size=settings.sweep_batch_size,
    )
    with UnitOfWork(lambda_connection("jobs")) as uow:
        sends = redrive_waiting_sends(
            uow, outbound_queue(), datetime.now(UTC), settings.sweep_batch_size
        )
    return {
        "receipts": receipts.model_dump(),
        "sends": {"found": sends.found, "enqueued": sends.enqueued},
    }
