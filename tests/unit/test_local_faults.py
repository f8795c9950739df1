"""The soak's SQS send faults (dev side only): seeded, SQS sends only, and met by the
layer's own SQS adapter as an outage it reports (DependencyUnavailable)."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError
from hypothesis import given
from hypothesis import strategies as st

from tests.support.aws import aws_session
from tether.aws.sqs import SqsQueue
from tether.domain.errors import DependencyUnavailable
from tether_dev.local.faults import SqsSendFaults

CLOSED = "http://127.0.0.1:9"  # nothing listens: a call that got through would fail there


@given(seed=st.integers(min_value=0, max_value=2**32), rate=st.floats(0.0, 1.0))
def test_only_sqs_sends_fail_and_the_same_seed_draws_the_same_faults(
    seed: int, rate: float
) -> None:
    first, second = SqsSendFaults(rate, seed), SqsSendFaults(rate, seed)
    draws = [first.should_fail("sqs", "SendMessage") for _ in range(50)]
    assert draws == [second.should_fail("sqs", "SendMessage") for _ in range(50)]
    assert first.injected == sum(draws)
    assert not first.should_fail("sqs", "ReceiveMessage")
    assert not first.should_fail("dynamodb", "PutItem")


def test_a_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        SqsSendFaults(1.5, 0)


def test_the_layer_meets_an_injected_failure_as_sqs_unavailable() -> None:
    client = aws_session().client("sqs", endpoint_url=CLOSED)
    faults = SqsSendFaults(1.0, 0).install()
    try:
        with pytest.raises(EndpointConnectionError):
            client.send_message(QueueUrl=f"{CLOSED}/123/q", MessageBody="x")
        with pytest.raises(DependencyUnavailable, match="SQS"):
            SqsQueue(f"{CLOSED}/123/q", client).send("x")
        assert faults.injected == 2
    finally:
        faults.uninstall()
    assert SqsSendFaults(0.0, 0).should_fail("sqs", "SendMessage") is False
