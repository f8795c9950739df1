"""OutboundQueue → one send per record, exactly once, from the lead's bound number.
Records that fail unexpectedly are reported back (partial batch failure) and return
after the queue's visibility timeout; after five receives they go to the DLQ."""

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

from tether.config import outbound_settings
from tether.db.unit_of_work import UnitOfWork
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.outbound import OutboundMessage, account_provider, handle_queued_send

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def outbound_queue() -> MessageQueue:
    from tether.aws.sqs import SqsQueue

    return SqsQueue(outbound_settings().outbound_queue_url)


def record_handler(record: SQSRecord) -> None:
    from tether.db.connection import lambda_connection

    message = OutboundMessage.model_validate_json(record.body)
    outcome = handle_queued_send(
        UnitOfWork(lambda_connection("app"), message.tenant_id),
        outbound_queue(),
        message,
        account_provider,
        datetime.now(UTC),
    )
    logger.info(
        "send processed", extra={"outcome": outcome.outcome.value, "reason": outcome.reason}
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
