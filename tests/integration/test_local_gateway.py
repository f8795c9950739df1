"""The local gateway between an HTTP request and a function: what the function gets,
and what API Gateway would answer for each kind of result. (A socket is bound, never
served: `answer` is called directly; the e2e tests go over the wire.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tether_dev.local.gateway import LocalGateway
from tether_dev.local.runtime import Invocation
from tether_dev.local.template import Route

ROUTES = [
    Route("GET", "/v1/health", None, mock_status=200, mock_body='{"status":"ok"}'),
    Route("ANY", "/v1/{proxy+}", "ApiFunction"),
]


class Function:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.next = Invocation("api", {"statusCode": 200, "body": "{}"}, None, 5.0, False)

    def __call__(self, logical_id: str, event: dict[str, Any], request_id: str) -> Invocation:
        assert logical_id == "ApiFunction"
        assert event["requestContext"]["requestId"] == request_id
        self.events.append(event)
        return self.next


@pytest.fixture
def function() -> Function:
    return Function()


@pytest.fixture
def gateway(function: Function) -> Iterator[LocalGateway]:
    gateway = LocalGateway(ROUTES, "dev", function, "127.0.0.1", 0)
    yield gateway
    gateway.close()


def test_the_function_gets_the_request_with_the_headers_api_gateway_adds(
    gateway: LocalGateway, function: Function
) -> None:
    function.next = Invocation(
        "api",
        {"statusCode": 201, "headers": {"Location": "/v1/leads/1"}, "body": '{"id": 1}'},
        None,
        5.0,
        False,
    )
    answer, request_id = gateway.answer(
        "POST",
        "/v1/leads?dry=1",
        [("Host", "127.0.0.1:3000"), ("Content-Type", "application/json")],
        b'{"phone": "+14155550100"}',
        "10.0.0.7",
    )
    assert (answer.status, json.loads(answer.body)) == (201, {"id": 1})
    assert ("Location", "/v1/leads/1") in answer.headers
    (event,) = function.events
    assert event["pathParameters"] == {"proxy": "leads"}
    assert event["queryStringParameters"] == {"dry": "1"}
    assert json.loads(event["body"]) == {"phone": "+14155550100"}
    assert event["requestContext"]["identity"]["sourceIp"] == "10.0.0.7"
    headers = event["headers"]
    assert (headers["X-Forwarded-Proto"], headers["X-Forwarded-For"]) == ("http", "10.0.0.7")
    assert headers["X-Forwarded-Port"] == gateway.url.rsplit(":", 1)[1]
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert request_id == event["requestContext"]["requestId"]


@pytest.mark.parametrize(
    ("invocation", "status", "body"),
    [
        (Invocation("api", None, RuntimeError("x"), 5.0, False), 502, "Internal server error"),
        (Invocation("api", {"body": "no status"}, None, 5.0, False), 502, "Internal server error"),
        (Invocation("api", None, None, 31_000.0, True), 504, "Endpoint request timed out"),
        (
            Invocation("api", {"statusCode": 200}, None, 29_500.0, False),
            504,
            "Endpoint request timed out",
        ),
    ],
)
def test_failures_answer_as_api_gateway_does(
    gateway: LocalGateway, function: Function, invocation: Invocation, status: int, body: str
) -> None:
    function.next = invocation
    answer, _ = gateway.answer("GET", "/v1/anything", [], b"", "127.0.0.1")
    assert (answer.status, json.loads(answer.body)) == (status, {"message": body})


def test_mocks_answer_without_the_function_and_unknown_routes_get_403(
    gateway: LocalGateway, function: Function
) -> None:
    health, _ = gateway.answer("GET", "/v1/health", [], b"", "127.0.0.1")
    assert (health.status, health.body) == (200, b'{"status":"ok"}')
    missing, _ = gateway.answer("GET", "/webhooks", [], b"", "127.0.0.1")
    assert (missing.status, json.loads(missing.body)) == (
        403,
        {"message": "Missing Authentication Token"},
    )
    assert function.events == []
