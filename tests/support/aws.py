"""moto's AWS for the integration fixtures: one boto3 session for the whole test run.

A new boto3 session reads and parses botocore's service models again for its first
client of each service (about 0.2 s a client, a third of an API test's time); clients
of one session share what it loaded (about 15 ms a client). The session holds moto's
fake credentials itself; each fixture's `mock_aws()` still gives every test empty AWS
services of its own. Make clients in a fixture, on the test's own thread: making two
at once from one session is not thread-safe (using a client from threads is)."""

from __future__ import annotations

from functools import cache

import boto3

REGION = "us-east-1"


@cache
def aws_session() -> boto3.session.Session:
    return boto3.session.Session(
        region_name=REGION,
        aws_access_key_id="testing",  # moto's fake credentials, as the fixtures' environment
        aws_secret_access_key="testing",
    )
