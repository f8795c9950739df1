"""LaunchQueue → one chunk of a launch per record: the next leads' first messages stored
through the send path, the launch's cursor and counts moved on in the same transaction,
the next chunk's message sent (tether.services.launches). A record delivered twice does
nothing the second time; one that fails is reported back (partial batch failure) and
returns after the queue's visibility timeout, after five receives to the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from tether.config import launch_settings
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import NotFound
from tether.observability import capture_lambda_handler, logger, metrics
from tether.queues import queue_at
from tether.services.events import event_relay
from tether.services.launches import LaunchChunk, run_launch_chunk
from tether.sqs_batch import PartialItemFailureResponse, SqsRecord, process_sqs_batch


class ChunkRecord(SqsRecord):
    """A LaunchQueue record: its body names the launch and the chunk."""

    body: Json[LaunchChunk]


def record_handler(record: ChunkRecord) -> None:
    from tether.db.connection import lambda_connection

    settings = launch_settings()
    chunk = record.body
    logger.append_keys(
        sqs_message_id=record.messageId,
        tenant_id=str(chunk.tenant_id),
        launch_id=str(chunk.launch_id),
    )
    try:
        outcome = run_launch_chunk(
            UnitOfWork(lambda_connection("app"), chunk.tenant_id, relay=event_relay()),
            queue_at(settings.launch_queue_url),
            queue_at(settings.outbound_queue_url),
            chunk,
            datetime.now(UTC),
            settings.launch_chunk_size,
        )
    except NotFound:
        # another tenant's id or a deleted campaign: retrying cannot help
        logger.error("launch not found; chunk dropped")
        return
    logger.info("launch chunk processed", extra={"seq": chunk.seq, "outcome": outcome})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_sqs_batch(event, ChunkRecord, record_handler)
