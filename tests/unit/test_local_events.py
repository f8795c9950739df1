"""The events the local stack builds, and the routing, batches and rates behind them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tether.config import PROJECT_ROOT
from tether.webhooks.request import WebhookRequest
from tether_dev.local.events import (
    failed_message_ids,
    http_answer,
    match_route,
    parse_rate,
    proxy_event,
    scheduled_event,
    sqs_event,
)
from tether_dev.local.template import Route

NOW = datetime(2026, 11, 21, 21, 30, tzinfo=UTC)
ROUTES = [
    Route("GET", "/v1/health", None),
    Route("ANY", "/v1/{proxy+}", "ApiFunction"),
    Route("POST", "/v1/campaigns/{campaign_id}", "CampaignFunction"),
    Route("ANY", "/webhooks/{provider}/{account_id}", "WebhookFunction"),
]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/health", ("/v1/health", {})),
        ("POST", "/v1/health", None),  # the resource has no POST: a {proxy+} does not take it
        ("POST", "/v1/campaigns/42", ("/v1/campaigns/{campaign_id}", {"campaign_id": "42"})),
        ("GET", "/v1/campaigns/42", None),
        ("GET", "/v1/leads/7/trace/", ("/v1/{proxy+}", {"proxy": "leads/7/trace"})),
        (
            "put",
            "/webhooks/twilio/abc",
            ("/webhooks/{provider}/{account_id}", {"provider": "twilio", "account_id": "abc"}),
        ),
        ("POST", "/webhooks/twilio", None),
        ("POST", "/webhooks/twilio/abc/extra", None),
        ("GET", "/v1", None),
        ("GET", "/", None),
    ],
)
def test_routes_match_like_api_gateway(
    method: str, path: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    match = match_route(ROUTES, method, path)
    assert (None if match is None else (match.route.path, match.path_parameters)) == expected


def event(body: bytes, content_type: str, query: str = "") -> dict[str, Any]:
    route = match_route(ROUTES, "POST", "/webhooks/sandbox/acc-1")
    assert route is not None
    return proxy_event(
        route=route,
        method="POST",
        path="/webhooks/sandbox/acc-1",
        query=query,
        headers=[
            ("Host", "127.0.0.1:3000"),
            ("Content-Type", content_type),
            ("X-Tag", "a"),
            ("X-Tag", "b"),
        ],
        body=body,
        stage="dev",
        source_ip="127.0.0.1",
        now=NOW,
        request_id="req-1",
    )


def test_the_proxy_event_has_the_shape_api_gateway_sends() -> None:
    built = event(b'{"a": 1}', "application/json", "x=1&x=2&y=")
    sample = json.loads((PROJECT_ROOT / "events/webhook/sandbox_inbound.json").read_text())
    assert set(built) >= set(sample)
    assert set(built["requestContext"]) >= set(sample["requestContext"])
    assert built["resource"] == "/webhooks/{provider}/{account_id}"
    assert built["pathParameters"] == {"provider": "sandbox", "account_id": "acc-1"}
    assert built["headers"]["X-Tag"] == "b"
    assert built["multiValueHeaders"]["X-Tag"] == ["a", "b"]
    assert built["queryStringParameters"] == {"x": "2", "y": ""}
    assert built["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert (built["body"], built["isBase64Encoded"]) == ('{"a": 1}', False)
    context = built["requestContext"]
    assert context["requestId"] == "req-1"
    assert context["stage"] == "dev"
    assert context["resourcePath"] == "/webhooks/{provider}/{account_id}"
    assert context["requestTimeEpoch"] == int(NOW.timestamp() * 1000)


def test_the_webhook_reads_the_url_it_was_called_at_from_the_event() -> None:
    request = WebhookRequest.from_api_gateway(
        {
            **event(b"a=1", "application/x-www-form-urlencoded"),
            "headers": {"Host": "127.0.0.1:3000", "X-Forwarded-Proto": "http"},
        }
    )
    assert request.url.candidates()[0] == "http://127.0.0.1:3000/webhooks/sandbox/acc-1"
    assert (request.provider, request.account_id, request.body) == ("sandbox", "acc-1", b"a=1")


def test_a_binary_body_is_base64_and_no_body_is_none() -> None:
    binary = event(b"\x00\xff", "application/octet-stream")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(str(binary["body"])) == b"\x00\xff"
    empty = event(b"", "application/json")
    assert (empty["body"], empty["isBase64Encoded"]) == (None, False)


def test_a_function_answer_becomes_http_and_a_malformed_one_a_502() -> None:
    answer = http_answer(
        {
            "statusCode": 201,
            "headers": {"X-A": "1"},
            "multiValueHeaders": {"Set-Cookie": ["a", "b"]},
            "body": base64.b64encode(b"hi").decode(),
            "isBase64Encoded": True,
        }
    )
    assert (answer.status, answer.body) == (201, b"hi")
    assert ("Set-Cookie", "b") in answer.headers
    assert ("Content-Type", "application/json") in answer.headers
    for malformed in (None, {"body": "x"}, {"statusCode": "200"}, {"statusCode": 200, "body": 3}):
        assert http_answer(malformed).status == 502


def test_an_sqs_batch_event_carries_each_message() -> None:
    built = sqs_event(
        [
            {
                "MessageId": "m1",
                "ReceiptHandle": "r1",
                "Body": "{}",
                "MD5OfBody": "x",
                "Attributes": {"ApproximateReceiveCount": "2"},
                "MessageAttributes": {
                    "event_type": {"DataType": "String", "StringValue": "status"}
                },
            }
        ],
        "arn:aws:sqs:us-east-1:123456789012:q",
    )
    (record,) = built["Records"]
    sample = json.loads((PROJECT_ROOT / "events/inbound.json").read_text())["Records"][0]
    assert set(record) == set(sample)
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["messageAttributes"]["event_type"]["stringValue"] == "status"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:q"


@pytest.mark.parametrize(
    ("answer", "failed"),
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        # as Lambda: an answer it cannot read fails the whole batch
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{}]}, {"a", "b"}),
        ({"batchItemFailures": "b"}, {"a", "b"}),
        ("oops", {"a", "b"}),
        ({"other": 1}, set()),
    ],
)
def test_partial_batch_failures_are_read_as_lambda_reads_them(
    answer: object, failed: set[str]
) -> None:
    assert failed_message_ids(answer, ["a", "b"]) == failed


def test_a_scheduled_event_is_eventbridges() -> None:
    built = scheduled_event("tether-local-SweeperFunctionEveryMinute", NOW)
    sample = json.loads((PROJECT_ROOT / "events/sweeper.json").read_text())
    assert set(built) == set(sample)
    assert (built["detail-type"], built["time"]) == ("Scheduled Event", "2026-11-21T21:30:00Z")


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(2 days)", timedelta(days=2)),
    ],
)
def test_rate_expressions(expression: str, period: timedelta) -> None:
    assert parse_rate(expression) == period


@pytest.mark.parametrize(
    "expression",
    ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(0 12 * * ? *)", "rate(5 weeks)"],
)
def test_what_eventbridge_refuses_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(expression)
