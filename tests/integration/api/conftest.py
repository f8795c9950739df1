"""API fixtures: the api function's handler wired to real PostgreSQL (a connection per
unit of work), moto's SQS and Secrets Manager, tenants with their keys, and a client that sends API
Gateway proxy events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.support.api_client import NOW, Api
from tests.support.aws import aws_session
from tether.api import context
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.secrets import SecretStore


@pytest.fixture
def api(
    monkeypatch: pytest.MonkeyPatch,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    admin: Connection,
) -> Iterator[Api]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "Tether",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        sqs = aws_session().client("sqs")
        url = sqs.create_queue(QueueName="outbound")["QueueUrl"]
        launch_url = sqs.create_queue(QueueName="launch")["QueueUrl"]
        secretsmanager = aws_session().client("secretsmanager")
        ports = context.ApiPorts(
            connections=app_connections,
            queue=SqsQueue(url, sqs),
            launch_queue=SqsQueue(launch_url, sqs),
            now=lambda: NOW,
            secrets=SecretStore(secretsmanager),
        )
        monkeypatch.setattr(context, "api_ports", lambda: ports)
        # every test's clock is NOW and its source 127.0.0.1: failed key lookups counted
        # by earlier tests in this database would otherwise add up to a 429
        admin.execute("DELETE FROM api_auth_failures")
        yield Api(sqs, url, jobs_connections, admin, secretsmanager, launch_url, app_connections)
