"""boto3 clients, one per service per container, made on first use."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Service = Literal["sqs", "dynamodb", "secretsmanager", "rds", "events", "s3"]


@overload
def aws_client(service: Literal["sqs"]) -> SQSClient: ...
@overload
def aws_client(service: Literal["dynamodb", "secretsmanager", "rds", "events", "s3"]) -> Any: ...
@cache
def aws_client(service: Service) -> Any:
    import boto3

    # A session of its own: clients are thread-safe, but making two at once from
    # boto3's shared default session is not.
    return boto3.session.Session().client(service)


@cache
def management_client(endpoint_url: str) -> Any:
    """The @connections API of one WebSocket stage (its endpoint is the stage's URL).
    Short timeouts and one retry: a push is best effort, and a slow socket must not
    hold up the batch it is in."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}),
    )
