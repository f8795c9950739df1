"""OutboundQueue → the sends a record names (one, or a bundle of one tenant's), each
exactly once, from the lead's bound number. A record with a send that failed
unexpectedly, or whose body is not a send, is reported back (partial batch failure) and
returns after the queue's visibility timeout, its finished sends then found done; after
five receives it goes to the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from tether.config import outbound_settings
from tether.db.unit_of_work import UnitOfWork
from tether.observability import capture_lambda_handler, logger, metrics
from tether.queues import queue_at
from tether.services.events import event_relay
from tether.services.outbound import (
    OutboundBundle,
    OutboundMessage,
    account_provider,
    handle_queued_sends,
)
from tether.sqs_batch import PartialItemFailureResponse, SqsRecord, process_sqs_batch


class SendRecord(SqsRecord):
    """An OutboundQueue record: its body names the send, or a bundle of sends."""

    body: Json[OutboundMessage | OutboundBundle]


def record_handler(record: SendRecord) -> None:
    from tether.db.connection import lambda_connection

    logger.append_keys(sqs_message_id=record.messageId)
    settings = outbound_settings()
    body = record.body
    handle_queued_sends(
        UnitOfWork(lambda_connection("app"), body.tenant_id, relay=event_relay()),
        # where a send that must wait goes back, with a delay
        queue_at(settings.outbound_queue_url),
        body.sends() if isinstance(body, OutboundBundle) else [body],
        account_provider,
        lambda: datetime.now(UTC),
        webhook_base_url=settings.webhook_base_url,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # One record per batch (BatchSize 1): a record that fails is reported back, as one
    # of many would be, not raised as the invocation's error.
    return process_sqs_batch(event, SendRecord, record_handler, raise_when_every_record_fails=False)
