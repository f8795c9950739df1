"""OutboundQueue → one send per record, exactly once, from the lead's bound number.
Records that fail unexpectedly, or whose body is not a send, are reported back (partial
batch failure) and return after the queue's visibility timeout; after five receives
they go to the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from tether.config import outbound_settings
from tether.db.unit_of_work import UnitOfWork
from tether.observability import capture_lambda_handler, logger, metrics
from tether.queues import queue_at
from tether.services.events import event_relay
from tether.services.outbound import OutboundMessage, account_provider, handle_queued_send

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


class SendRecord(SqsRecordModel):
    """An OutboundQueue record: its body is the message to send."""

    body: Json[OutboundMessage]


processor = BatchProcessor(event_type=EventType.SQS, model=SendRecord)


def record_handler(record: SendRecord) -> None:
    from tether.db.connection import lambda_connection

    logger.append_keys(sqs_message_id=record.messageId)
    settings = outbound_settings()
    outcome = handle_queued_send(
        UnitOfWork(lambda_connection("app"), record.body.tenant_id, relay=event_relay()),
        # where a send that must wait goes back, with a delay
        queue_at(settings.outbound_queue_url),
        record.body,
        account_provider,
        datetime.now(UTC),
        webhook_base_url=settings.webhook_base_url,
    )
    logger.info(
        "send processed", extra={"outcome": outcome.outcome.value, "reason": outcome.reason}
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
