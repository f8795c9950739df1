"""SQS batches as Lambda hands them to a queue function: each record parsed into the
function's model and handled on its own, and the records that failed (a body that is
not the message the queue carries, or an error while handling it) reported back as a
partial batch failure, so that SQS returns only those after the visibility timeout.

The contract of Powertools' BatchProcessor for SQS, which the queue functions used
before: its import brings every event source's parser models and data classes, about a
third of an SQS function's cold start, to read two fields of an SQS record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from tether.observability import logger


class SqsRecord(BaseModel):
    """One record of Lambda's SQS event: what Tether reads of it. A function's record
    model types the body (``body: Json[TheMessage]``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    messageId: str
    body: Any  # the message as SQS carries it, a string; a record model types it


RecordT = TypeVar("RecordT", bound=SqsRecord)


class ItemFailure(TypedDict):
    itemIdentifier: str


class PartialItemFailureResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class EntireBatchFailed(Exception):
    """Every record of the batch failed: the invocation fails, and SQS returns them all."""


def process_sqs_batch(
    event: dict[str, Any],
    model: type[RecordT],
    handle: Callable[[RecordT], None],
    *,
    raise_when_every_record_fails: bool = True,
) -> PartialItemFailureResponse:
    """Parse each record of `event` into `model` and `handle` it; answer the message ids
    of those that failed. When every record failed, raise EntireBatchFailed instead
    (unless told not to: a function whose batches hold one record reports it back)."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: it has no list of Records")
    failed: list[ItemFailure] = []
    for raw in records:
        message_id = str(raw.get("messageId", "")) if isinstance(raw, dict) else ""
        try:
            record = model.model_validate(raw)
        except ValidationError as error:
            logger.warning(
                "record refused: not the message this queue carries",
                extra={"sqs_message_id": message_id, "errors": error.error_count()},
            )
            failed.append({"itemIdentifier": message_id})
            continue
        try:
            handle(record)
        except Exception as error:
            logger.warning(
                "record failed",
                extra={"sqs_message_id": message_id, "error": type(error).__name__},
            )
            failed.append({"itemIdentifier": message_id})
    if failed and len(failed) == len(records) and raise_when_every_record_fails:
        raise EntireBatchFailed(f"all {len(records)} records failed")
    return {"batchItemFailures": failed}
