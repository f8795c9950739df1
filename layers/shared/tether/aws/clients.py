"""AWS clients, one per service per container, made on first use.

Every client comes from one botocore session: a session loads the endpoint rules, the
retry and default settings and each service's model once and its clients share them
(a session per client made the webhook's three clients cost about three times one).
Making two clients at once from one session is not thread-safe (using them is), so
they are made one at a time. botocore directly, not boto3: its clients are the same
objects, and boto3's import is about 25 ms a function that uses no resource API would
pay for nothing."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from botocore.session import Session
    from mypy_boto3_sqs import SQSClient

Service = Literal["sqs", "dynamodb", "secretsmanager", "rds", "events", "s3"]

_one_at_a_time = threading.Lock()


@cache
def aws_session() -> Session:
    """The container's botocore session (credentials and region from the environment)."""
    import botocore.session

    from tether.observability import trace_aws_calls

    trace_aws_calls()  # before the first client: X-Ray records every call
    return botocore.session.Session()


@overload
def aws_client(service: Literal["sqs"]) -> SQSClient: ...
@overload
def aws_client(service: Literal["dynamodb", "secretsmanager", "rds", "events", "s3"]) -> Any: ...
@cache
def aws_client(service: Service) -> Any:
    with _one_at_a_time:
        return aws_session().create_client(service)


@cache
def management_client(endpoint_url: str) -> Any:
    """The @connections API of one WebSocket stage (its endpoint is the stage's URL).
    Short timeouts and one retry: a push is best effort, and a slow socket must not
    hold up the batch it is in."""
    from botocore.config import Config

    with _one_at_a_time:
        return aws_session().create_client(
            "apigatewaymanagementapi",
            endpoint_url=endpoint_url,
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}),
        )


def forget_every_client() -> None:
    """Make the session and its clients again on next use (tests that change the
    credentials: a session reads them once, as Lambda's never change in a container)."""
    aws_session.cache_clear()
    aws_client.cache_clear()  # type: ignore[attr-defined]  # (its overloads hide it)
    management_client.cache_clear()
