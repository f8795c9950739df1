"""Every minute: put receipts the webhook stored but could not enqueue on the inbound
queue (see tether.services.receipts)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.config import sweeper_settings
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.receipts import redrive_unenqueued_receipts


@lru_cache(maxsize=1)
def inbound_queue() -> MessageQueue:
    from tether.aws.sqs import SqsQueue

    return SqsQueue(sweeper_settings().inbound_queue_url)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from tether.db.connection import lambda_connection

    settings = sweeper_settings()
    report = redrive_unenqueued_receipts(
        lambda_connection("jobs"),
        inbound_queue(),
        grace=timedelta(seconds=settings.sweep_grace_seconds),
        batch_size=settings.sweep_batch_size,
    )
    return report.model_dump()
