"""SQS batches: each record parsed and handled on its own, the failed ones (a body that
is not the message, or an error while handling it) answered as batchItemFailures in
the batch's order, and a batch whose every record failed raised, as Powertools'
BatchProcessor answered before (its contract, not its import)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Json

from tether.sqs_batch import EntireBatchFailed, SqsRecord, process_sqs_batch


class Greeting(BaseModel):
    name: str


class GreetingRecord(SqsRecord):
    body: Json[Greeting]


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    """A record as Lambda's SQS event source hands it over."""
    return {
        "messageId": message_id,
        "receiptHandle": "AQEB...",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


# per record: "ok", "refused" (not the message), or "raises" (the handler fails)
Outcome = st.sampled_from(["ok", "refused", "raises"])


@given(st.lists(Outcome, max_size=12))
def test_the_failed_records_are_reported_in_order(outcomes: list[str]) -> None:
    records = [
        sqs_record(
            f"m{index}",
            "{not json" if outcome == "refused" else json.dumps({"name": outcome}),
        )
        for index, outcome in enumerate(outcomes)
    ]
    handled: list[str] = []

    def handle(record: GreetingRecord) -> None:
        if record.body.name == "raises":
            raise RuntimeError("the handler failed")
        handled.append(record.messageId)

    failed = [f"m{index}" for index, outcome in enumerate(outcomes) if outcome != "ok"]
    event = {"Records": records}
    if records and len(failed) == len(records):
        with pytest.raises(EntireBatchFailed):
            process_sqs_batch(event, GreetingRecord, handle)
    else:
        answer = process_sqs_batch(event, GreetingRecord, handle)
        assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
    assert handled == [f"m{index}" for index, outcome in enumerate(outcomes) if outcome == "ok"]
    # told not to raise, a batch whose every record failed is reported back whole
    handled.clear()
    answer = process_sqs_batch(event, GreetingRecord, handle, raise_when_every_record_fails=False)
    assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}


@pytest.mark.parametrize("event", [{}, {"Records": None}, {"Records": {"a": 1}}])
def test_an_event_without_a_list_of_records_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Records"):
        process_sqs_batch(event, GreetingRecord, lambda record: None)
