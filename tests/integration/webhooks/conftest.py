"""Webhook fixtures: moto's DynamoDB and SQS in process, provider accounts with the
samples' development secrets, and the webhook handler wired to them.

moto's in-process mock patches botocore for every thread, so the concurrency tests
call the handler from real threads; each thread's unit of work gets its own
connection (FreshConnections).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

import functions.webhook.app as webhook_app
from tests.integration.factories import Chain
from tests.webhook_samples import SECRETS, signed_event
from tether.aws.idempotency import DynamoDbExactlyOnce
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
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


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "Tether",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        sqs, dynamodb = session.client("sqs"), session.client("dynamodb")
        queue_url = sqs.create_queue(QueueName="inbound")["QueueUrl"]
        dynamodb.create_table(  # as template.yaml's IdempotencyTable
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield Aws(sqs, dynamodb, queue_url, TABLE)


def make_ports(aws: Aws, connections: FreshConnections, **overrides: Any) -> WebhookPorts:
    values: dict[str, Any] = {
        "connections": connections,
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


@pytest.fixture
def ports(aws: Aws, app_connections: FreshConnections) -> WebhookPorts:
    return make_ports(aws, app_connections)


Deliver = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def deliver(ports: WebhookPorts, monkeypatch: pytest.MonkeyPatch) -> Deliver:
    """Call the webhook function's handler, wired to `ports`, with an API Gateway event."""
    monkeypatch.setattr(webhook_app, "webhook_ports", lambda: ports)

    def call(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = webhook_app.handler(event, FakeLambdaContext())
        return response

    return call


AddAccount = Callable[..., str]


@pytest.fixture
def add_account(admin: Connection, chain: Chain) -> AddAccount:
    """A provider account of `chain`'s tenant, signed with the samples' secret by default."""

    def add(provider: str, secret_ref: str | None = None, **columns: Any) -> str:
        values = {
            "tenant_id": chain.tenant_id,
            "provider": provider,
            "name": f"{provider}-{uuid.uuid4().hex[:6]}",
            "signing_secret_ref": secret_ref
            if secret_ref is not None
            else f"local:{SECRETS[provider]}",
            **columns,
        }
        row = admin.execute(
            f"INSERT INTO provider_accounts ({', '.join(values)})"
            f" VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
            tuple(values.values()),
        ).fetchone()
        assert row is not None
        return str(row["id"])

    return add


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
