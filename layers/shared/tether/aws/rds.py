"""RDS IAM authentication: a short-lived token that stands in for a password."""

from __future__ import annotations

from tether.aws.clients import aws_client


def iam_auth_token(host: str, port: int, user: str) -> str:
    """A 15-minute token for `user` at `host:port` (an RDS Proxy or an instance),
    signed locally with the function's own credentials: no network call."""
    token: str = aws_client("rds").generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=user
    )
    return token
