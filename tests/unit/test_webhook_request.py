"""Reading an API Gateway proxy event: the raw body and the URL the provider called."""

from __future__ import annotations

import base64

import pytest

from tests.support.webhook_samples import SAMPLE_ACCOUNT_ID, load_sample
from tether.webhooks.errors import MalformedPayload
from tether.webhooks.request import WebhookRequest

HOST = "k3v9x2w1ab.execute-api.us-east-1.amazonaws.com"


def test_the_public_url_keeps_the_stage() -> None:
    request = WebhookRequest.from_api_gateway(load_sample("twilio_status"))
    path = f"/dev/webhooks/twilio/{SAMPLE_ACCOUNT_ID}"
    assert request.url.candidates() == [f"https://{HOST}{path}", f"https://{HOST}:443{path}"]
    assert (request.method, request.provider, request.account_id) == (
        "POST",
        "twilio",
        SAMPLE_ACCOUNT_ID,
    )


def test_a_custom_domain_keeps_its_base_path_and_port() -> None:
    event = load_sample("twilio_status")
    event["headers"]["Host"] = "hooks.example.com:8443"
    event["requestContext"]["path"] = "/tether/webhooks/twilio/x"
    request = WebhookRequest.from_api_gateway(event)
    # with its port first, and without it: the Twilio SDK's RequestValidator tries both
    assert request.url.candidates() == [
        "https://hooks.example.com:8443/tether/webhooks/twilio/x",
        "https://hooks.example.com/tether/webhooks/twilio/x",
    ]


def test_forwarded_proto_and_port_and_the_path_without_request_context() -> None:
    event = load_sample("twilio_status")
    event["headers"].update({"X-Forwarded-Proto": "http, https", "X-Forwarded-Port": "8080"})
    del event["requestContext"]["path"]
    request = WebhookRequest.from_api_gateway(event)
    assert request.url.candidates() == [
        f"http://{HOST}:8080/dev/webhooks/twilio/{SAMPLE_ACCOUNT_ID}",
        f"http://{HOST}/dev/webhooks/twilio/{SAMPLE_ACCOUNT_ID}",
    ]


def test_the_query_is_kept_in_order_and_re_encoded() -> None:
    event = load_sample("twilio_status")
    event["multiValueQueryStringParameters"] = {"foo": ["1"], "bar": ["2", "a b"]}
    request = WebhookRequest.from_api_gateway(event)
    assert request.url.candidates()[0].endswith("?foo=1&bar=2&bar=a%20b")
    assert request.url.query_value("bar") == "2"


def test_headers_are_case_insensitive_and_the_media_type_drops_parameters() -> None:
    event = load_sample("twilio_status")
    event["headers"]["Content-Type"] = "Application/X-WWW-Form-Urlencoded; charset=utf-8"
    request = WebhookRequest.from_api_gateway(event)
    assert request.media_type == "application/x-www-form-urlencoded"
    assert request.header("x-twilio-signature") == request.header("X-Twilio-Signature")


def test_a_base64_body_is_decoded_to_its_bytes() -> None:
    event = load_sample("telnyx_inbound")
    raw = event["body"].encode()
    event.update(body=base64.b64encode(raw).decode(), isBase64Encoded=True)
    assert WebhookRequest.from_api_gateway(event).body == raw
    event["body"] = "not base64!"
    with pytest.raises(MalformedPayload):
        WebhookRequest.from_api_gateway(event)


def test_an_event_without_body_or_headers_is_still_a_request() -> None:
    request = WebhookRequest.from_api_gateway({"httpMethod": "GET"})
    assert (request.body, request.media_type, request.provider) == (b"", "", "")


@pytest.mark.parametrize("port", ["²", "٣٤", "99999", "0", "1" * 5000, "-1", "8o"])
def test_a_port_that_is_no_port_is_ignored_not_a_crash(port: str) -> None:
    event = load_sample("twilio_status")
    event["headers"]["Host"] = f"hooks.example.com:{port}"
    event["headers"]["X-Forwarded-Port"] = port
    request = WebhookRequest.from_api_gateway(event)
    assert request.url.port is None
