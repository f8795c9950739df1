"""InboundQueue → each stored webhook receipt applied once: a delivery status to its
message, a reply to its lead. Records that fail unexpectedly, or whose body is not a
receipt message, are reported back (partial batch failure) and return after the
visibility timeout; five times, the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from tether.config import inbound_settings
from tether.observability import capture_lambda_handler, logger, metrics
from tether.queues import queue_at
from tether.services.events import event_relay
from tether.services.inbound import process_receipt
from tether.services.receipts import ReceiptMessage
from tether.sqs_batch import PartialItemFailureResponse, SqsRecord, process_sqs_batch


class ReceiptRecord(SqsRecord):
    """An InboundQueue record: its body is the receipt to apply."""

    body: Json[ReceiptMessage]


def record_handler(record: ReceiptRecord) -> None:
    from tether.db.connection import lambda_connection
    from tether.db.unit_of_work import UnitOfWork

    logger.append_keys(sqs_message_id=record.messageId)
    settings = inbound_settings()
    outcome = process_receipt(
        UnitOfWork(lambda_connection("app"), record.body.tenant_id, relay=event_relay()),
        record.body,
        datetime.now(UTC),
        queue_at(settings.outbound_queue_url),
        queue_at(settings.media_queue_url) if settings.media_queue_url else None,
    )
    logger.info("receipt processed", extra={"outcome": outcome})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_sqs_batch(event, ReceiptRecord, record_handler)
