"""SQS records as Lambda hands them to a queue function: every field of Powertools'
SqsRecordModel, which the functions' batch processors validate before a record runs."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any


def sqs_record(body: str, queue: str) -> dict[str, Any]:
    sent = str(int(time.time() * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "h",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": sent,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": sent,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
        "awsRegion": "us-east-1",
    }


def send_ids(bodies: list[dict[str, Any]]) -> list[str]:
    """The message ids OutboundQueue bodies name, in order: a lone send's, and each of a
    bundle's (tether.services.outbound.OutboundBundle)."""
    return [
        message_id
        for body in bodies
        for message_id in (body["message_ids"] if "message_ids" in body else [body["message_id"]])
    ]
