"""MediaQueue → each inbound media file copied into MediaBucket once (issue 18). A copy
that may succeed later (the provider or S3 not answering) is reported back (partial
batch failure) and returns after the visibility timeout; five times, the DLQ."""

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

from tether.config import media_settings, stage_settings
from tether.observability import capture_lambda_handler, logger, metrics
from tether.services.media import MediaCopyMessage, copy_attachment
from tether.storage import media_store

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


class MediaRecord(SqsRecordModel):
    """A MediaQueue record: its body names the attachment to copy."""

    body: Json[MediaCopyMessage]


processor = BatchProcessor(event_type=EventType.SQS, model=MediaRecord)


def record_handler(record: MediaRecord) -> None:
    from tether.db.connection import lambda_connection
    from tether.db.unit_of_work import UnitOfWork

    logger.append_keys(sqs_message_id=record.messageId)
    outcome = copy_attachment(
        UnitOfWork(lambda_connection("app"), record.body.tenant_id),
        record.body,
        media_store(media_settings().media_bucket_name),
        datetime.now(UTC),
        local_stage=stage_settings().is_local,
    )
    logger.info("media copy handled", extra={"outcome": outcome})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
