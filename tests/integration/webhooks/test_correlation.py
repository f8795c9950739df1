"""Every line a webhook request logs carries the request's API Gateway request id."""

from __future__ import annotations

import uuid

from tests.support.log_capture import captured_logs
from tests.support.webhook_samples import load_sample
from tests.support.webhooks import AddAccount, Deliver, sample_for


def test_every_line_of_a_delivery_carries_its_api_gateway_request_id(
    deliver: Deliver, add_account: AddAccount
) -> None:
    event = sample_for(add_account, load_sample("sandbox_inbound"))
    request_id = str(uuid.uuid4())
    event["requestContext"]["requestId"] = request_id
    with captured_logs() as logs:
        response = deliver(event)
    assert response["statusCode"] == 200
    lines = logs.parsed()
    assert "webhook accepted" in {line["message"] for line in lines}
    assert {line.get("correlation_id") for line in lines} == {request_id}
