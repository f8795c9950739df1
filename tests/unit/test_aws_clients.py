"""Every AWS client of a container comes from one botocore session, so the endpoint
rules, settings and service models are loaded once, not once per client."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.session import Session

from tether.aws import clients


@pytest.fixture
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)  # no tracer
    clients.forget_every_client()
    yield clients
    clients.forget_every_client()


def test_every_client_comes_from_one_session(
    fresh_clients: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions: list[Session] = []
    create_client = Session.create_client

    def spy(self: Session, *args: Any, **kwargs: Any) -> Any:
        sessions.append(self)
        return create_client(self, *args, **kwargs)

    monkeypatch.setattr(Session, "create_client", spy)
    sqs = fresh_clients.aws_client("sqs")
    dynamodb = fresh_clients.aws_client("dynamodb")
    push = fresh_clients.management_client("https://abc.execute-api.us-east-1.amazonaws.com/dev")
    assert fresh_clients.aws_client("sqs") is sqs  # one per service
    assert [client.meta.service_model.service_name for client in (sqs, dynamodb, push)] == [
        "sqs",
        "dynamodb",
        "apigatewaymanagementapi",
    ]
    assert len(sessions) == 3
    assert all(session is sessions[0] for session in sessions)
    assert push.meta.config.read_timeout == 5
