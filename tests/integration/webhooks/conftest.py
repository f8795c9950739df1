"""Webhook fixtures: moto's DynamoDB and SQS in process, provider accounts with the
samples' development secrets, and the webhook handler wired to them.

moto's in-process mock patches botocore for every thread, so the concurrency tests
call the handler from real threads; each thread's unit of work gets its own
connection (FreshConnections).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

import functions.webhook.app as webhook_app
from tests.support.aws import aws_session
from tests.support.factories import Chain
from tests.support.webhook_samples import SECRETS
from tests.support.webhooks import (
    TABLE,
    AddAccount,
    Aws,
    Deliver,
    FakeLambdaContext,
    make_ports,
)
from tether.db.connection import Connection, FreshConnections
from tether.services.webhooks import WebhookPorts


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
        session = aws_session()
        sqs, dynamodb = session.client("sqs"), session.client("dynamodb")
        queue_url = sqs.create_queue(QueueName="inbound")["QueueUrl"]
        dynamodb.create_table(  # as template.yaml's IdempotencyTable
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield Aws(sqs, dynamodb, queue_url, TABLE)


@pytest.fixture
def ports(aws: Aws, app_connections: FreshConnections) -> WebhookPorts:
    return make_ports(aws, app_connections)


@pytest.fixture
def deliver(ports: WebhookPorts, monkeypatch: pytest.MonkeyPatch) -> Deliver:
    """Call the webhook function's handler, wired to `ports`, with an API Gateway event."""
    monkeypatch.setattr(webhook_app, "webhook_ports", lambda: ports)

    def call(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = webhook_app.handler(event, FakeLambdaContext())
        return response

    return call


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
