"""Signed events with values no sane provider sends still parse: unreadable times
become the time of receipt, odd error codes become text, a count that is no number is
ignored, and text PostgreSQL cannot hold is made storable by one documented rule."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.webhook_samples import SAMPLE_TIME, SECRETS, load_sample, with_body, with_json
from tether.domain.classification import Intent, classify_reply
from tether.domain.events import InboundMessage, StatusUpdate
from tether.domain.storable import REPLACEMENT, readable_body, storable, storable_text
from tether.webhooks.errors import InvalidSignature
from tether.webhooks.providers import WEBHOOK_PROVIDERS, ParsedDelivery
from tether.webhooks.providers.base import code_text, event_time
from tether.webhooks.request import WebhookRequest

ODD_TIMES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    1e20,
    -1e20,
    1e300,
    10**99,
    -1,
    True,
    "NaN",
    "yesterday",
    "2026-01-15T17:30:05",  # no zone
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "1999-12-31T23:59:59Z",
    [],
    {},
]


def parse(event: dict[str, Any]) -> ParsedDelivery:
    provider = event["pathParameters"]["provider"]
    return WEBHOOK_PROVIDERS[provider].parse(WebhookRequest.from_api_gateway(event), SAMPLE_TIME)


@pytest.mark.parametrize("value", ODD_TIMES, ids=repr)
def test_an_unreadable_or_absurd_event_time_is_the_time_of_receipt(value: Any) -> None:
    assert event_time(value, SAMPLE_TIME) == SAMPLE_TIME


def test_a_plausible_event_time_is_kept_in_utc() -> None:
    earlier = SAMPLE_TIME - timedelta(hours=3)
    assert event_time(earlier.timestamp(), SAMPLE_TIME) == earlier
    assert event_time("2026-01-15T12:00:00-05:00", SAMPLE_TIME) == datetime(
        2026, 1, 15, 17, tzinfo=UTC
    )


SETTERS = {
    "signalwire_relay_inbound": lambda body, v: body.update(timestamp=v),
    "signalwire_relay_status": lambda body, v: body.update(timestamp=v),
    "telnyx_inbound": lambda body, v: body["data"].update(occurred_at=v),
    "telnyx_status": lambda body, v: body["data"].update(occurred_at=v),
    "signalhouse_inbound": lambda body, v: body.update(timestamp=v),
    "signalhouse_status": lambda body, v: body.update(timestamp=v),
    "sandbox_inbound": lambda body, v: body.update(timestamp=v),
    "sandbox_status": lambda body, v: body.update(timestamp=v),
}


@pytest.mark.parametrize("name", SETTERS)
@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e20", "-1e20", "1e300", "9" * 5000]
)
def test_every_providers_event_time_survives_non_finite_and_absurd_numbers(
    name: str, literal: str
) -> None:
    body = json.loads(load_sample(name)["body"])
    SETTERS[name](body, "__TIME__")
    # written as a JSON literal, as a provider (or an attacker with its key) would
    text = json.dumps(body).replace('"__TIME__"', literal)
    parsed = parse(with_body(load_sample(name), text))
    assert parsed.event is not None
    assert parsed.event.occurred_at == SAMPLE_TIME


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (30007, "30007"),
        ("30007", "30007"),
        (30007.0, "30007"),
        (math.nan, None),
        (math.inf, None),
        (1e300, "1e+300"),
        ({"a": 1}, None),
        (None, None),
    ],
)
def test_an_error_code_of_any_json_type_is_text_or_nothing(value: Any, text: str | None) -> None:
    assert code_text(value) == text


def test_a_telnyx_error_code_of_nan_keeps_the_status() -> None:
    def fail(body: dict[str, Any]) -> None:
        body["data"]["payload"]["errors"] = [{"code": "__CODE__", "title": "Carrier rejected"}]

    text = with_json(load_sample("telnyx_status"), fail)["body"].replace('"__CODE__"', "NaN")
    parsed = parse(with_body(load_sample("telnyx_status"), text))
    assert isinstance(parsed.event, StatusUpdate)
    assert (parsed.event.error_code, parsed.event.error_reason) == (None, "Carrier rejected")


@pytest.mark.parametrize("count", ["lots", "²", "-1", "1e300", "NaN", "9" * 5000, ""])
def test_a_twilio_num_media_that_is_no_number_loses_neither_message_nor_media(count: str) -> None:
    body = (
        "MessageSid=SM1&SmsStatus=received&Body=hi&From=%2B14155552671&To=%2B16502530000"
        f"&NumMedia={count}&MediaUrl0=https%3A%2F%2Fm.example%2F0&MediaUrl1=https%3A%2F%2Fm.example%2F1"
    )
    parsed = parse(with_body(load_sample("twilio_inbound"), body))
    assert isinstance(parsed.event, InboundMessage)
    assert parsed.event.media_urls == ("https://m.example/0", "https://m.example/1")


# the storable-text rule


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("STOP\x00", f"STOP{REPLACEMENT}"),
        ("a\x00b\x00", f"a{REPLACEMENT}b{REPLACEMENT}"),
        ("\ud800x\udfff", f"{REPLACEMENT}x{REPLACEMENT}"),
        ("emoji 😀 and tab\t and bell\x07", "emoji 😀 and tab\t and bell\x07"),
    ],
)
def test_nul_and_lone_surrogates_become_the_replacement_character(text: str, stored: str) -> None:
    assert storable_text(text) == stored
    stored.encode("utf-8")  # encodable, so PostgreSQL takes it


def test_the_rule_reaches_keys_lists_and_numbers() -> None:
    assert storable({"k\x00": ["\ud83d", 1.5, math.nan, 3, None, True]}) == {
        f"k{REPLACEMENT}": [REPLACEMENT, 1.5, None, 3, None, True]
    }


def test_a_body_that_is_not_utf8_is_readable_and_the_rest_is_kept() -> None:
    assert (
        readable_body(b"STOP\x00 \xff\xfe ok") == f"STOP{REPLACEMENT} {REPLACEMENT}{REPLACEMENT} ok"
    )


@pytest.mark.parametrize("body", ["STOP\x00", "\x00STOP", "Stop\ud800", "STOP\x00\x00\x00"])
def test_a_stop_with_nul_or_a_surrogate_is_an_opt_out_once_stored(body: str) -> None:
    assert classify_reply(storable_text(body)).intent is Intent.OPT_OUT


TIMESTAMP_HEADERS = {
    "telnyx_inbound": "telnyx-timestamp",
    "signalhouse_inbound": "X-SignalHouse-Timestamp",
    "sandbox_inbound": "webhook-timestamp",
}


@pytest.mark.parametrize("name", TIMESTAMP_HEADERS)
@pytest.mark.parametrize(
    "value", ["²", "٣٤٥", "NaN", "inf", "-inf", "9" * 5000, "-1", "1e300", " ", "0x10"]
)
def test_a_signature_timestamp_that_is_no_time_is_a_401_not_a_crash(name: str, value: str) -> None:
    event = load_sample(name)
    event["headers"][TIMESTAMP_HEADERS[name]] = value
    provider = event["pathParameters"]["provider"]
    with pytest.raises(InvalidSignature):
        WEBHOOK_PROVIDERS[provider].verify(
            WebhookRequest.from_api_gateway(event), [SECRETS[provider]], SAMPLE_TIME
        )
