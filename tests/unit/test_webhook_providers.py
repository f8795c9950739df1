"""Every provider's samples from events/webhook/: they verify with the development
secrets, tampering is caught, and they parse into the canonical events."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.webhook_samples import (
    LEAD_IN_SAMPLES,
    OURS_IN_SAMPLES,
    SAMPLE_TIME,
    SAMPLES,
    SECRETS,
    load_sample,
    provider_of,
    signed_event,
    twilio_json_event,
    with_body,
    with_form_param,
    with_json,
)
from tether.domain.events import InboundMessage, StatusUpdate
from tether.domain.message_status import MessageStatus
from tether.webhooks.errors import InvalidSignature, MalformedPayload
from tether.webhooks.providers import WEBHOOK_PROVIDERS, ParsedDelivery
from tether.webhooks.request import WebhookRequest


def request_of(event: dict[str, Any]) -> WebhookRequest:
    return WebhookRequest.from_api_gateway(event)


def verify(event: dict[str, Any], secrets: list[str] | None = None) -> None:
    provider = provider_of(event)
    WEBHOOK_PROVIDERS[provider].verify(
        request_of(event), secrets or [SECRETS[provider]], SAMPLE_TIME
    )


def parse(event: dict[str, Any]) -> ParsedDelivery:
    return WEBHOOK_PROVIDERS[provider_of(event)].parse(request_of(event), SAMPLE_TIME)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_verifies_with_its_development_secret(name: str) -> None:
    verify(load_sample(name))


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_is_refused_with_another_secret(name: str) -> None:
    event = load_sample(name)
    other = (
        base64.b64encode(bytes(range(32))).decode()
        if provider_of(event) == "telnyx"
        else "whsec_" + base64.b64encode(b"another secret entirely").decode()
    )
    with pytest.raises(InvalidSignature):
        verify(event, [other])


@pytest.mark.parametrize("name", SAMPLES)
def test_a_tampered_body_is_refused(name: str) -> None:
    event = load_sample(name)
    body = event["body"]
    tampered = body.replace("1", "2", 1) if "1" in body else body + " "
    with pytest.raises(InvalidSignature):
        verify(with_body(event, tampered))


URL_SIGNED = [n for n, p in SAMPLES.items() if p in ("twilio", "signalwire")]
TIMESTAMPED = {
    "telnyx": "telnyx-timestamp",
    "signalhouse": "X-SignalHouse-Timestamp",
    "sandbox": "webhook-timestamp",
}


@pytest.mark.parametrize("name", URL_SIGNED)
@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: e["requestContext"].update(
            path=e["requestContext"]["path"].replace("/dev/", "/prod/")
        ),
        lambda e: e["headers"].update({"X-Forwarded-Proto": "http"}),
        lambda e: e["headers"].update({"Host": "evil.example.com"}),
        lambda e: e.update(queryStringParameters={"x": "1"}),
    ],
    ids=["stage", "scheme", "host", "query"],
)
def test_a_tampered_url_is_refused(name: str, tamper: Callable[[dict[str, Any]], None]) -> None:
    event = load_sample(name)
    tamper(event)
    with pytest.raises(InvalidSignature):
        verify(event)


@pytest.mark.parametrize("name", [n for n, p in SAMPLES.items() if p in TIMESTAMPED])
def test_a_tampered_timestamp_is_refused(name: str) -> None:
    event = load_sample(name)
    header = TIMESTAMPED[provider_of(event)]
    event["headers"][header] = str(int(event["headers"][header]) - 1)
    with pytest.raises(InvalidSignature):
        verify(event)


@pytest.mark.parametrize("name", [n for n, p in SAMPLES.items() if p in TIMESTAMPED])
def test_a_replay_after_five_minutes_is_refused(name: str) -> None:
    event = load_sample(name)  # signed at SAMPLE_TIME
    provider = WEBHOOK_PROVIDERS[provider_of(event)]
    later = SAMPLE_TIME.replace(minute=SAMPLE_TIME.minute + 6)
    with pytest.raises(InvalidSignature, match="off"):
        provider.verify(request_of(event), [SECRETS[provider.name]], later)


@pytest.mark.parametrize("name", SAMPLES)
def test_a_missing_signature_is_refused(name: str) -> None:
    event = load_sample(name)
    event["headers"] = {k: v for k, v in event["headers"].items() if "signature" not in k.lower()}
    with pytest.raises(InvalidSignature, match="missing"):
        verify(event)


def test_the_url_with_an_explicit_default_port_also_verifies() -> None:
    event = load_sample("twilio_status")
    event["headers"]["Host"] += ":443"
    verify(signed_event(event, now=SAMPLE_TIME))  # signed with the port in the URL
    event["headers"]["Host"] = event["headers"]["Host"].removesuffix(":443")
    verify(event)


def test_signalwire_compatibility_callbacks_may_use_the_twilio_header() -> None:
    event = load_sample("signalwire_status")
    event["headers"]["X-Twilio-Signature"] = event["headers"].pop("X-SignalWire-Signature")
    verify(event)


def test_twilio_json_callbacks_sign_the_url_with_the_body_hash() -> None:
    event = twilio_json_event(load_sample("twilio_status"), {"event": "something.happened"})
    signed = signed_event(event, now=SAMPLE_TIME)
    verify(signed)
    with pytest.raises(InvalidSignature, match="bodySHA256"):
        verify(with_body(signed, '{"event": "something.else"}'))
    parsed = parse(signed)
    assert parsed.event is None
    assert parsed.event_type == "unknown"


# what the samples mean


def test_twilio_inbound() -> None:
    parsed = parse(load_sample("twilio_inbound"))
    assert isinstance(parsed.event, InboundMessage)
    assert parsed.identity == "SM7b3c1f0e2d4a5968b7c6d5e4f3a2b1c0"
    assert parsed.event.external_id == parsed.identity
    assert (parsed.event.from_address, parsed.event.to_address) == (
        LEAD_IN_SAMPLES,
        OURS_IN_SAMPLES,
    )
    assert parsed.event.body.startswith("Yes, tomorrow at 3pm")
    assert len(parsed.event.media_urls) == 1
    assert parsed.event.media_urls[0].startswith("https://api.twilio.com/")
    assert parsed.event.occurred_at == SAMPLE_TIME  # Twilio sends no time: arrival


def test_twilio_status_has_its_status_in_its_identity() -> None:
    parsed = parse(load_sample("twilio_status"))
    assert isinstance(parsed.event, StatusUpdate)
    assert parsed.event.status == MessageStatus.UNDELIVERED
    assert parsed.event.error_code == "30003"
    assert parsed.identity == "SMd0e1f2a3b4c5d6e7f8091a2b3c4d5e6f:undelivered"


def test_signalwire_compatibility_and_relay_events() -> None:
    inbound = parse(load_sample("signalwire_inbound"))
    status = parse(load_sample("signalwire_status"))
    relay_in = parse(load_sample("signalwire_relay_inbound"))
    relay_status = parse(load_sample("signalwire_relay_status"))
    assert isinstance(inbound.event, InboundMessage)
    assert inbound.event.provider == "signalwire"
    assert isinstance(status.event, StatusUpdate)
    assert status.event.status == MessageStatus.DELIVERED
    assert isinstance(relay_in.event, InboundMessage)
    assert relay_in.event.body == "Can we talk after 5?"
    assert relay_in.event.occurred_at.timestamp() == pytest.approx(1768498205.123)
    assert isinstance(relay_status.event, StatusUpdate)
    assert relay_status.event.status == MessageStatus.FAILED
    assert relay_status.event.error_reason == "Carrier rejected: destination unreachable"
    assert relay_status.identity.endswith(":failed")


def test_telnyx_events() -> None:
    inbound = parse(load_sample("telnyx_inbound"))
    finalized = parse(load_sample("telnyx_status"))
    assert isinstance(inbound.event, InboundMessage)
    assert inbound.identity == "b301ed3f-1490-491f-995f-6e64e69674d4"  # the event, not the message
    assert inbound.event.external_id == "84cca175-9755-4859-b67f-4730d7f58aa3"
    assert inbound.event.body == "STOP"
    assert isinstance(finalized.event, StatusUpdate)
    assert finalized.event.status == MessageStatus.UNDELIVERED  # delivery_failed
    assert finalized.event.error_code == "40300"
    assert finalized.event.error_reason == "Message blocked by the carrier as spam"


def test_telnyx_retries_keep_identity_and_fingerprint_but_other_content_does_not() -> None:
    first = load_sample("telnyx_inbound")
    retry = with_json(first, lambda b: b["meta"].update(attempt=2))
    edited = with_json(first, lambda b: b["data"]["payload"].update(text="START"))
    assert parse(retry).identity == parse(first).identity
    assert parse(retry).fingerprint == parse(first).fingerprint
    assert parse(edited).fingerprint != parse(first).fingerprint


def test_signalhouse_events_are_identified_by_delivery_id() -> None:
    inbound = parse(load_sample("signalhouse_inbound"))
    status = parse(load_sample("signalhouse_status"))
    assert inbound.identity == "0d4c8f7e-3b2a-4d19-8e6f-5a4b3c2d1e0f"
    assert isinstance(inbound.event, InboundMessage)
    assert inbound.event.external_id == "6787c2f1a9b3e40012d4f5a6"
    assert inbound.event.from_address == LEAD_IN_SAMPLES.lstrip("+")  # as SignalHouse sends it
    assert inbound.event.to_address == OURS_IN_SAMPLES.lstrip("+")
    assert isinstance(status.event, StatusUpdate)
    assert status.event.status == MessageStatus.DELIVERED
    assert status.event.occurred_at.isoformat() == "2026-01-15T17:30:05.010000+00:00"


def test_signalhouse_without_delivery_id_is_malformed() -> None:
    event = load_sample("signalhouse_inbound")
    del event["headers"]["X-SignalHouse-Delivery-Id"]
    with pytest.raises(MalformedPayload, match="X-SignalHouse-Delivery-Id"):
        parse(event)


def test_sandbox_events() -> None:
    inbound = parse(load_sample("sandbox_inbound"))
    status = parse(load_sample("sandbox_status"))
    assert inbound.identity == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    assert isinstance(inbound.event, InboundMessage)
    assert isinstance(status.event, StatusUpdate)
    assert status.event.status == MessageStatus.DELIVERED


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("telnyx_inbound", lambda b: b["data"].update(event_type="number_order.complete")),
        ("signalhouse_inbound", lambda b: b.update(event="NUMBER_PURCHASED")),
        ("sandbox_inbound", lambda b: b.update(type="number.ported")),
        ("signalwire_relay_inbound", lambda b: b.update(event_type="calling.call.state")),
        (
            "telnyx_status",
            lambda b: b["data"]["payload"]["to"][0].update(status="webhook_delivered"),
        ),
    ],
)
def test_unknown_event_types_are_kept_not_refused(name: str, change: Callable[[Any], None]) -> None:
    parsed = parse(with_json(load_sample(name), change))
    assert parsed.event is None
    assert parsed.event_type == "unknown"
    assert parsed.identity


def test_twilio_voice_callbacks_and_unknown_statuses_are_unknown_events() -> None:
    voice = with_body(
        load_sample("twilio_status"), "CallSid=CA1&CallStatus=ringing&From=%2B1&To=%2B2"
    )
    assert parse(voice).event_type == "unknown"
    odd = parse(
        with_body(load_sample("twilio_status"), "MessageSid=SM1&MessageStatus=partially_delivered")
    )
    assert odd.event is None
    assert odd.identity == "SM1:partially_delivered"


@pytest.mark.parametrize(
    ("name", "body", "complaint"),
    [
        ("telnyx_inbound", "{not json", "not JSON"),
        ("sandbox_inbound", "[1, 2]", "not an object"),
        (
            "telnyx_inbound",
            json.dumps(
                {
                    "data": {
                        "id": "e1",
                        "event_type": "message.received",
                        "payload": {"id": "m1", "to": []},
                    }
                }
            ),
            "from",
        ),
        ("signalhouse_inbound", json.dumps({"event": "MESSAGE_RECEIVED"}), "identifier"),
        (
            "sandbox_status",
            json.dumps({"type": "message.status", "data": {"id": "m", "from": "a", "to": "b"}}),
            "status",
        ),
        ("twilio_inbound", "MessageSid=SM1&SmsStatus=received&Body=hi&To=%2B1", "From"),
        ("twilio_status", "MessageStatus=delivered", "MessageSid"),
    ],
)
def test_malformed_payloads_say_what_is_wrong(name: str, body: str, complaint: str) -> None:
    with pytest.raises(MalformedPayload, match=complaint):
        parse(with_body(load_sample(name), body))


def test_a_malformed_twilio_form_cannot_be_verified() -> None:
    event = with_body(load_sample("twilio_status"), "")
    event["isBase64Encoded"] = True
    event["body"] = base64.b64encode(b"\xff\xfe=\xff").decode()
    with pytest.raises(InvalidSignature):
        verify(event)


# inbound media (issue 18): each URL with the Content-Type the provider declared


def test_twilio_mms_keeps_each_media_url_with_its_declared_type() -> None:
    event = with_form_param(load_sample("twilio_inbound"), "MediaContentType0", "IMAGE/JPEG")
    body = (
        event["body"] + "&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm%2F2&MediaContentType1=%00%FF"
    )
    parsed = parse(with_body(event, body))
    assert isinstance(parsed.event, InboundMessage)
    assert len(parsed.event.media_urls) == 2
    assert parsed.event.media_types == ("image/jpeg", "")  # an odd type is no type


def test_telnyx_mms_reads_media_url_and_content_type() -> None:
    def add_media(body: dict[str, Any]) -> None:
        body["data"]["payload"]["media"] = [
            {"url": "https://media.telnyx.example/a", "content_type": "image/png", "size": 10},
            {"url": "https://media.telnyx.example/b", "content_type": 12},
        ]

    parsed = parse(with_json(load_sample("telnyx_inbound"), add_media))
    assert isinstance(parsed.event, InboundMessage)
    assert parsed.event.media_urls == (
        "https://media.telnyx.example/a",
        "https://media.telnyx.example/b",
    )
    assert parsed.event.media_types == ("image/png", "")
