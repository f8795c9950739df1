"""Every line an API request logs carries the request's API Gateway request id, the id
API Gateway's access log and the client's support ticket name it by."""

from __future__ import annotations

import uuid

from functions.api import app as api_app
from tests.support.api_client import Api, proxy_event
from tests.support.lambda_context import LambdaContextStub
from tests.support.log_capture import captured_logs


def test_every_line_of_a_request_carries_its_api_gateway_request_id(api: Api) -> None:
    client = api.tenant()
    request_id = str(uuid.uuid4())
    event = proxy_event(
        "GET", f"/v1/campaigns/{uuid.uuid4()}", {"Authorization": f"Bearer {client.key}"}, None
    )
    event["requestContext"]["requestId"] = request_id
    with captured_logs() as logs:
        response = api_app.handler(event, LambdaContextStub(function_name="tether-api"))
    assert response["statusCode"] == 404
    lines = logs.parsed()
    assert {"access denied", "api request"} <= {line["message"] for line in lines}
    assert {line.get("correlation_id") for line in lines} == {request_id}
    # and the next request its own
    event["requestContext"]["requestId"] = other = str(uuid.uuid4())
    with captured_logs() as logs:
        api_app.handler(event, LambdaContextStub(function_name="tether-api"))
    assert {line.get("correlation_id") for line in logs.parsed()} == {other}
