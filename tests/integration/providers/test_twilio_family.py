"""Twilio and SignalWire (the same Twilio-compatible client) against a loopback stub that
answers with the JSON shapes of their API references."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.providers import FROM, TO, RecordedRequest, StubProvider
from tether.domain.message_status import MessageStatus
from tether.domain.redaction import mask_phone_numbers
from tether.providers import ProviderError, ProviderErrorKind, SendAccepted, SendCommand
from tether.providers.signalwire import SignalWireProvider
from tether.providers.twilio import TwilioProvider

K = ProviderErrorKind
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
PROJECT = "ea108133-d6b3-407c-9536-9fad8a929a6a"
LAML_MESSAGES = f"/api/laml/2010-04-01/Accounts/{PROJECT}/Messages.json"


def twilio_message(**overrides: Any) -> dict[str, Any]:
    """A Message resource as Twilio's API reference shows it."""
    message = {
        "account_sid": ACCOUNT,
        "api_version": "2010-04-01",
        "body": "Hi Ana",
        "date_created": "Mon, 02 Mar 2026 15:04:05 +0000",
        "date_sent": None,
        "date_updated": "Mon, 02 Mar 2026 15:04:05 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": FROM,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/SM1/Media.json"},
        "to": TO,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json",
    }
    message.update(overrides)
    return message


def twilio_page(messages: list[dict[str, Any]], next_page_uri: str | None = None) -> dict[str, Any]:
    return {
        "end": len(messages),
        "first_page_uri": f"{MESSAGES}?PageSize=50&Page=0",
        "messages": messages,
        "next_page_uri": next_page_uri,
        "page": 0,
        "page_size": 50,
        "previous_page_uri": None,
        "start": 0,
        "uri": f"{MESSAGES}?PageSize=50&Page=0",
    }


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def basic_auth(request: RecordedRequest) -> str:
    scheme, token = request.headers["authorization"].split(" ", 1)
    assert scheme == "Basic"
    return base64.b64decode(token).decode()


@pytest.fixture
def twilio(stub: StubProvider) -> TwilioProvider:
    return TwilioProvider(ACCOUNT, "auth-token", api_url=f"{stub.url}/2010-04-01", read_timeout=1)


def send_command(**overrides: Any) -> SendCommand:
    fields: dict[str, Any] = {
        "from_number": FROM,
        "to_number": TO,
        "body": "Hi Ana",
        "idempotency_key": "lead-1:intro:2026-03-02",
    }
    fields.update(overrides)
    return SendCommand(**fields)


def test_twilio_send_is_a_form_post_with_basic_auth(
    stub: StubProvider, twilio: TwilioProvider
) -> None:
    stub.on("POST", MESSAGES, 201, twilio_message())
    accepted = twilio.send(
        send_command(
            media_urls=("https://x.test/a.jpg", "https://x.test/b.jpg"),
            status_callback_url="https://hooks.test/twilio/status",
        )
    )
    assert accepted == SendAccepted(
        "twilio", "SM1f0e8ae6ade43cb3c0ce4525424e404f", MessageStatus.QUEUED, 1
    )
    request = stub.only_request()
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert basic_auth(request) == f"{ACCOUNT}:auth-token"
    assert request.form() == {
        "To": [TO],
        "From": [FROM],
        "Body": ["Hi Ana"],
        "MediaUrl": ["https://x.test/a.jpg", "https://x.test/b.jpg"],
        "StatusCallback": ["https://hooks.test/twilio/status"],
    }
    assert "idempotency-key" not in request.headers


def test_twilio_authenticates_with_an_api_key_when_given(stub: StubProvider) -> None:
    stub.on("POST", MESSAGES, 201, twilio_message(status="accepted", num_segments="0"))
    provider = TwilioProvider(
        ACCOUNT,
        api_key_sid="SK0123",
        api_key_secret="secret",
        api_url=f"{stub.url}/2010-04-01",
    )
    accepted = provider.send(send_command())
    assert basic_auth(stub.only_request()) == "SK0123:secret"
    # A Messaging Service send reports 0 segments until a sender is chosen: unknown.
    assert (accepted.status, accepted.segments) == (MessageStatus.ACCEPTED, None)


@pytest.mark.parametrize(
    ("status", "payload", "kind", "code"),
    [
        (
            400,
            twilio_error(21610, "Attempt to send to unsubscribed recipient", 400),
            K.UNSUBSCRIBED,
            "21610",
        ),
        (
            400,
            twilio_error(21211, "The 'To' number 5551234567 is not a valid phone number.", 400),
            K.INVALID_NUMBER,
            "21211",
        ),
        (
            400,
            twilio_error(21614, "'To' number is not a valid mobile number", 400),
            K.NOT_SMS_CAPABLE,
            "21614",
        ),
        (400, twilio_error(21635, "'To' number cannot be a landline", 400), K.LANDLINE, "21635"),
        (401, twilio_error(20003, "Authenticate", 401), K.AUTH, "20003"),
        (429, twilio_error(20429, "Too Many Requests", 429), K.RETRYABLE, "20429"),
        (
            400,
            twilio_error(
                21617, "The concatenated message body exceeds the 1600 character limit", 400
            ),
            K.REJECTED,
            "21617",
        ),
        (502, b"<html>Bad Gateway</html>", K.RETRYABLE, None),
    ],
)
def test_twilio_errors_map_to_kinds(
    stub: StubProvider,
    twilio: TwilioProvider,
    status: int,
    payload: object,
    kind: ProviderErrorKind,
    code: str | None,
) -> None:
    stub.on("POST", MESSAGES, status, payload)
    with pytest.raises(ProviderError) as raised:
        twilio.send(send_command())
    error = raised.value
    assert (error.provider, error.kind, error.code, error.http_status) == (
        "twilio",
        kind,
        code,
        status,
    )
    assert error.may_have_sent == (status >= 500)
    if isinstance(payload, dict):
        # the provider's text, with the recipient's number masked (tether.domain.redaction)
        assert error.reason == mask_phone_numbers(payload["message"])


def test_twilio_find_sent_filters_by_pair_and_date_sent_and_compares_body(
    stub: StubProvider, twilio: TwilioProvider
) -> None:
    sent_after = datetime(2026, 3, 2, 15, 4, 5, 600_000, tzinfo=UTC)
    stub.on(
        "GET",
        MESSAGES,
        200,
        twilio_page(
            [
                twilio_message(sid="SMother", body="Another text", status="delivered"),
                twilio_message(
                    sid="SMold", status="delivered", date_created="Mon, 02 Mar 2026 15:04:04 +0000"
                ),
                twilio_message(sid="SMinbound", direction="inbound"),
                twilio_message(
                    sid="SMmatch",
                    status="sent",
                    num_segments="1",
                    date_sent="Mon, 02 Mar 2026 15:04:06 +0000",
                ),
            ]
        ),
    )
    found = twilio.find_sent(send_command(), sent_after)
    assert found == SendAccepted("twilio", "SMmatch", MessageStatus.SENT, 1)
    request = stub.requests[0]
    assert request.query == {
        "From": [FROM],
        "To": [TO],
        "PageSize": ["50"],
        "DateSent>": ["2026-03-02"],
    }
    assert basic_auth(request) == f"{ACCOUNT}:auth-token"


def test_twilio_find_sent_sees_a_message_still_queued(
    stub: StubProvider, twilio: TwilioProvider
) -> None:
    # Queued messages have no date_sent, so the DateSent list leaves them out.
    stub.on("GET", MESSAGES, 200, twilio_page([]), when=lambda r: "DateSent>" in r.query)
    stub.on("GET", MESSAGES, 200, twilio_page([twilio_message(sid="SMqueued")]))
    found = twilio.find_sent(send_command(), datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    assert found is not None
    assert found.external_id == "SMqueued"
    assert [("DateSent>" in r.query) for r in stub.requests] == [True, False]


def test_twilio_find_sent_follows_pages_and_answers_none_when_absent(
    stub: StubProvider, twilio: TwilioProvider
) -> None:
    # The first page links to a second one; nothing anywhere matches.
    first_page = twilio_page(
        [twilio_message(sid="SMlater", body="no")],
        next_page_uri=f"{MESSAGES}?PageSize=50&Page=1&PageToken=PA1",
    )
    stub.on("GET", MESSAGES, 200, first_page, when=lambda r: "Page" not in r.query)
    second_page = twilio_page([twilio_message(sid="SMearlier", body="no either")])
    stub.on("GET", MESSAGES, 200, second_page, when=lambda r: "Page" in r.query)
    assert twilio.find_sent(send_command(), datetime(2026, 3, 2, tzinfo=UTC)) is None
    pages = [r.query.get("Page") for r in stub.requests]
    assert pages.count(["1"]) == 2  # once per lookup (DateSent, then unfiltered)


def test_twilio_timeouts_and_refused_connections_are_retryable(stub: StubProvider) -> None:
    stub.on("POST", MESSAGES, 201, twilio_message(), delay_seconds=0.5)
    slow = TwilioProvider(ACCOUNT, "t", api_url=f"{stub.url}/2010-04-01", read_timeout=0.1)
    with pytest.raises(ProviderError) as timed_out:
        slow.send(send_command())
    assert timed_out.value.kind == K.RETRYABLE
    assert timed_out.value.may_have_sent  # the request went out; the answer did not come
    closed = StubProvider().start()
    url = closed.url
    closed.stop()
    refused = TwilioProvider(ACCOUNT, "t", api_url=f"{url}/2010-04-01")
    with pytest.raises(ProviderError) as not_connected:
        refused.send(send_command())
    assert not_connected.value.kind == K.RETRYABLE
    assert not not_connected.value.may_have_sent


# SignalWire: the same client on the space's LaML URL.


def signalwire_message(**overrides: Any) -> dict[str, Any]:
    """A Message as SignalWire's compatibility API reference shows it."""
    message = {
        "account_sid": PROJECT,
        "api_version": "2010-04-01",
        "body": "Hi Ana",
        "num_segments": 1,
        "num_media": 0,
        "date_created": "Mon, 02 Mar 2026 15:04:05 +0000",
        "date_sent": None,
        "date_updated": "Mon, 02 Mar 2026 15:04:05 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": FROM,
        "price": 0.005,
        "price_unit": "USD",
        "sid": "0a059168-ead0-41af-9d1f-343dae832527",
        "status": "queued",
        "to": TO,
        "messaging_service_sid": None,
        "uri": f"/api/laml/2010-04-01/Accounts/{PROJECT}/Messages/0a059168.json",
    }
    message.update(overrides)
    return message


@pytest.fixture
def signalwire(stub: StubProvider) -> SignalWireProvider:
    return SignalWireProvider(PROJECT, "PTtoken", stub.url, read_timeout=1)


def test_signalwire_send_goes_to_the_space_laml_api(
    stub: StubProvider, signalwire: SignalWireProvider
) -> None:
    stub.on("POST", LAML_MESSAGES, 201, signalwire_message())
    accepted = signalwire.send(send_command(status_callback_url="https://hooks.test/sw"))
    assert accepted == SendAccepted(
        "signalwire", "0a059168-ead0-41af-9d1f-343dae832527", MessageStatus.QUEUED, 1
    )
    request = stub.only_request()
    assert basic_auth(request) == f"{PROJECT}:PTtoken"
    assert request.form()["StatusCallback"] == ["https://hooks.test/sw"]
    assert request.form()["To"] == [TO]


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 21610, K.UNSUBSCRIBED),
        (400, 21217, K.INVALID_NUMBER),
        (400, 21717, K.AUTH),
        (401, None, K.AUTH),
        (429, None, K.RETRYABLE),
    ],
)
def test_signalwire_errors_map_to_kinds(
    stub: StubProvider,
    signalwire: SignalWireProvider,
    status: int,
    code: int | None,
    kind: ProviderErrorKind,
) -> None:
    payload = {"code": code, "message": "refused", "status": status} if code else {"status": status}
    stub.on("POST", LAML_MESSAGES, status, payload)
    with pytest.raises(ProviderError) as raised:
        signalwire.send(send_command())
    assert (raised.value.provider, raised.value.kind) == ("signalwire", kind)
    assert raised.value.code == (str(code) if code else None)


def test_signalwire_find_sent_reads_the_laml_messages_list(
    stub: StubProvider, signalwire: SignalWireProvider
) -> None:
    stub.on(
        "GET",
        LAML_MESSAGES,
        200,
        {"messages": [signalwire_message(status="delivered")], "next_page_uri": None},
    )
    found = signalwire.find_sent(send_command(), datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    assert found is not None
    assert (found.provider, found.status) == ("signalwire", MessageStatus.DELIVERED)
    too_late = datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC) + timedelta(seconds=1)
    assert signalwire.find_sent(send_command(), too_late) is None
