"""InboundQueue → each stored webhook receipt applied once: a delivery status to its
message, a reply to its lead. Records that fail unexpectedly are reported back
(partial batch failure) and return after the visibility timeout; five times, the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.config import inbound_settings
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.inbound import process_receipt
from tether.services.receipts import ReceiptMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def outbound_queue() -> MessageQueue:
    from tether.aws.sqs import SqsQueue

    return SqsQueue(inbound_settings().outbound_queue_url)


def record_handler(record: SQSRecord) -> None:
    from tether.db.connection import lambda_connection
    from tether.db.unit_of_work import UnitOfWork

    message = ReceiptMessage.model_validate_json(record.body)
    uow = UnitOfWork(lambda_connection("app"), message.tenant_id)
    outcome = process_receipt(uow, message, datetime.now(UTC), outbound_queue())
    logger.info("receipt processed", extra={"outcome": outcome})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
