"""Helpers of the webhook tests: moto's resources, the function's ports, and queries
of what a request left behind. Fixtures using them are in conftest.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tests.support.webhook_samples import signed_event
from tether.aws.idempotency import DynamoDbExactlyOnce
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.secrets import resolve_secret
from tether.services.webhooks import WebhookPorts

TABLE = "tether-idempotency"


@dataclass
class FakeLambdaContext:
    function_name: str = "tether-webhook"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:tether-webhook"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class Aws:
    sqs: Any
    dynamodb: Any
    queue_url: str
    table_name: str

    def messages(self) -> list[dict[str, Any]]:
        """Every message on the inbound queue, taken off it."""
        taken: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return taken
            for message in batch:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                taken.append(json.loads(message["Body"]))


def make_ports(aws: Aws, connections: FreshConnections, **overrides: Any) -> WebhookPorts:
    values: dict[str, Any] = {
        "unit_of_work": partial(UnitOfWork, connections),
        "queue": SqsQueue(aws.queue_url, aws.sqs),
        "exactly_once": DynamoDbExactlyOnce(
            aws.table_name,
            key_prefix="webhook-receipt",
            expires_after_seconds=3600,
            client=aws.dynamodb,
        ),
        "resolve_secret": resolve_secret,
    }
    values.update(overrides)
    return WebhookPorts(**values)


Deliver = Callable[[dict[str, Any]], dict[str, Any]]


AddAccount = Callable[..., str]


def sample_for(add_account: AddAccount, event: dict[str, Any], **sign: Any) -> dict[str, Any]:
    """`event` sent to a new account of its provider, signed now."""
    account_id = add_account(event["pathParameters"]["provider"])
    return signed_event(event, account_id=account_id, **sign)


def receipts(admin: Connection, account_id: str) -> list[dict[str, Any]]:
    return admin.execute(
        "SELECT * FROM webhook_receipts WHERE provider_account_id = %s ORDER BY received_at",
        (account_id,),
    ).fetchall()


def audit_rows(admin: Connection, account_id: str) -> list[dict[str, Any]]:
    return admin.execute(
        "SELECT * FROM audit_log WHERE subject_id = %s ORDER BY created_at", (account_id,)
    ).fetchall()
