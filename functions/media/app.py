"""MediaQueue → each inbound media file copied into MediaBucket once (issue 18). A copy
that may succeed later (the provider or S3 not answering) is reported back (partial
batch failure) and returns after the visibility timeout; five times, the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from tether.config import media_settings, stage_settings
from tether.observability import capture_lambda_handler, logger, metrics
from tether.services.media import MediaCopyMessage, copy_attachment
from tether.sqs_batch import PartialItemFailureResponse, SqsRecord, process_sqs_batch
from tether.storage import media_store


class MediaRecord(SqsRecord):
    """A MediaQueue record: its body names the attachment to copy."""

    body: Json[MediaCopyMessage]


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
    # One record per batch (BatchSize 1): a copy that fails is reported back, as one of
    # many would be, not raised as the invocation's error.
    return process_sqs_batch(
        event, MediaRecord, record_handler, raise_when_every_record_fails=False
    )
