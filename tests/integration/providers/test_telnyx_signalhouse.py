"""Telnyx and SignalHouse against a loopback stub that answers with the JSON shapes of
their API references."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.providers import FROM, TO, StubProvider
from tether.domain.message_status import MessageStatus
from tether.domain.redaction import mask_phone_numbers
from tether.providers import ProviderError, ProviderErrorKind, SendAccepted, SendCommand
from tether.providers.signalhouse import SignalHouseProvider
from tether.providers.telnyx import TelnyxProvider

K = ProviderErrorKind
MESSAGE_ID = "40385f64-5717-4562-b3fc-2c963f66afa6"


def send_command(**overrides: Any) -> SendCommand:
    fields: dict[str, Any] = {
        "from_number": FROM,
        "to_number": TO,
        "body": "Hi Ana",
        "idempotency_key": "lead-1:intro:2026-03-02",
    }
    fields.update(overrides)
    return SendCommand(**fields)


# Telnyx


def telnyx_message(**overrides: Any) -> dict[str, Any]:
    """A message as Telnyx's send-message reference shows it (inside "data")."""
    message: dict[str, Any] = {
        "record_type": "message",
        "direction": "outbound",
        "id": MESSAGE_ID,
        "type": "SMS",
        "messaging_profile_id": "4000eba1-a0c0-4563-9925-b25e842a7cb6",
        "from": {"phone_number": FROM, "carrier": "Telnyx", "line_type": "Wireless"},
        "to": [
            {
                "phone_number": TO,
                "status": "queued",
                "carrier": "T-MOBILE USA, INC.",
                "line_type": "Wireless",
            }
        ],
        "text": "Hi Ana",
        "media": [],
        "webhook_url": "https://hooks.test/telnyx",
        "webhook_failover_url": "",
        "encoding": "GSM-7",
        "parts": 1,
        "tags": [],
        "cost": None,
        "received_at": "2026-03-02T15:04:05.574+00:00",
        "sent_at": None,
        "completed_at": None,
        "valid_until": None,
        "errors": [],
    }
    message.update(overrides)
    return message


def telnyx_errors(code: str, title: str, detail: str) -> dict[str, Any]:
    return {
        "errors": [
            {
                "code": code,
                "title": title,
                "detail": detail,
                "meta": {"url": f"https://developers.telnyx.com/docs/overview/errors/{code}"},
            }
        ]
    }


@pytest.fixture
def telnyx(stub: StubProvider) -> TelnyxProvider:
    return TelnyxProvider("KEY0123", api_url=f"{stub.url}/v2", read_timeout=1)


def test_telnyx_send_is_json_with_a_bearer_key(stub: StubProvider, telnyx: TelnyxProvider) -> None:
    stub.on("POST", "/v2/messages", 200, {"data": telnyx_message()})
    accepted = telnyx.send(
        send_command(
            media_urls=("https://x.test/a.jpg",), status_callback_url="https://hooks.test/telnyx"
        )
    )
    assert accepted == SendAccepted("telnyx", MESSAGE_ID, MessageStatus.QUEUED, 1)
    request = stub.only_request()
    assert request.headers["authorization"] == "Bearer KEY0123"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "from": FROM,
        "to": TO,
        "text": "Hi Ana",
        "media_urls": ["https://x.test/a.jpg"],
        "type": "MMS",
        "webhook_url": "https://hooks.test/telnyx",
    }
    # Telnyx's send-message endpoint declares no Idempotency-Key; none is sent.
    assert "idempotency-key" not in request.headers
    assert not telnyx.supports_idempotency_key


@pytest.mark.parametrize(
    ("status", "payload", "kind", "code"),
    [
        (
            409,
            telnyx_errors(
                "40300",
                "Blocked due to STOP message",
                f"Messages cannot be sent from {FROM} to {TO} due to an existing block rule.",
            ),
            K.UNSUBSCRIBED,
            "40300",
        ),
        (
            400,
            telnyx_errors("10002", "Invalid phone number", "The phone number is invalid."),
            K.INVALID_NUMBER,
            "10002",
        ),
        (
            401,
            telnyx_errors(
                "10009",
                "Authentication failed",
                "The required authentication headers were either invalid or not included in the request.",
            ),
            K.AUTH,
            "10009",
        ),
        (
            429,
            telnyx_errors(
                "10011",
                "Too many requests",
                "You have exceeded the maximum number of allowed requests.",
            ),
            K.RETRYABLE,
            "10011",
        ),
        (
            422,
            telnyx_errors(
                "10015", "Bad Request", "The request failed because it was not well-formed."
            ),
            K.REJECTED,
            "10015",
        ),
        (503, b"", K.RETRYABLE, None),
    ],
)
def test_telnyx_errors_map_to_kinds(
    stub: StubProvider,
    telnyx: TelnyxProvider,
    status: int,
    payload: object,
    kind: ProviderErrorKind,
    code: str | None,
) -> None:
    stub.on("POST", "/v2/messages", status, payload)
    with pytest.raises(ProviderError) as raised:
        telnyx.send(send_command())
    error = raised.value
    assert (error.provider, error.kind, error.code, error.http_status) == (
        "telnyx",
        kind,
        code,
        status,
    )
    if isinstance(payload, dict):
        # the provider's text, with the recipient's number masked (tether.domain.redaction)
        assert error.reason == mask_phone_numbers(payload["errors"][0]["detail"])


def mdr(uuid: str, created_at: str) -> dict[str, Any]:
    """A message detail record as the detail-records search reference shows it."""
    return {
        "record_type": "message_detail_record",
        "uuid": uuid,
        "created_at": created_at,
        "updated_at": created_at,
        "cld": TO,
        "cli": FROM,
        "direction": "outbound",
        "message_type": "SMS",
        "parts": 1,
        "status": "delivered",
    }


def test_telnyx_find_sent_searches_detail_records_then_reads_the_text(
    stub: StubProvider, telnyx: TelnyxProvider
) -> None:
    stub.on(
        "GET",
        "/v2/detail_records",
        200,
        {
            "data": [
                mdr("11111111-0000-0000-0000-000000000001", "2026-03-02T15:04:07Z"),
                mdr(MESSAGE_ID, "2026-03-02T15:04:06Z"),
                mdr("11111111-0000-0000-0000-000000000003", "2026-03-02T14:00:00Z"),
            ],
            "meta": {"page_number": 1, "page_size": 50, "total_pages": 1, "total_results": 3},
        },
    )
    stub.on(
        "GET",
        "/v2/messages/11111111-0000-0000-0000-000000000001",
        200,
        {"data": telnyx_message(id="11111111-0000-0000-0000-000000000001", text="Other text")},
    )
    stub.on(
        "GET",
        f"/v2/messages/{MESSAGE_ID}",
        200,
        {"data": telnyx_message(to=[{"phone_number": TO, "status": "delivered"}])},
    )
    found = telnyx.find_sent(send_command(), datetime(2026, 3, 2, 15, 4, 5, 900_000, tzinfo=UTC))
    assert found == SendAccepted("telnyx", MESSAGE_ID, MessageStatus.DELIVERED, 1)
    search = stub.requests[0]
    assert search.query == {
        "filter[record_type]": ["messaging"],
        "filter[direction]": ["outbound"],
        "filter[cli]": [FROM],
        "filter[cld]": [TO],
        "filter[created_at][gte]": ["2026-03-02"],
        "sort": ["-created_at"],
        "page[size]": ["50"],
    }
    # The record from before `sent_after` is never fetched.
    assert [r.path for r in stub.requests[1:]] == [
        "/v2/messages/11111111-0000-0000-0000-000000000001",
        f"/v2/messages/{MESSAGE_ID}",
    ]


def test_telnyx_find_sent_answers_none_without_a_record(
    stub: StubProvider, telnyx: TelnyxProvider
) -> None:
    stub.on("GET", "/v2/detail_records", 200, {"data": [], "meta": {"total_results": 0}})
    assert telnyx.find_sent(send_command(), datetime(2026, 3, 2, tzinfo=UTC)) is None


# SignalHouse


SH_ID = "6650f1c2e4b0a1a2b3c4d5e6"


def signalhouse_answer(**overrides: Any) -> dict[str, Any]:
    """A send answer as SignalHouse's SDK documents it: one document per recipient."""
    inserted: dict[str, Any] = {
        "_id": SH_ID,
        "senderPhoneNumber": FROM[1:],
        "messageType": "SMS",
        "direction": "OUTBOUND",
        "recipientPhoneNumber": TO[1:],
        "messageBody": "Hi Ana",
        "segmentCount": 1,
        "status": "ENQUEUED",
        "enableShortlink": False,
        "errorCode": None,
        "createdAt": "2026-03-02T15:04:06.120Z",
    }
    inserted.update(overrides.pop("message", {}))
    answer: dict[str, Any] = {
        "insertedMessages": [inserted],
        "requestedRecipientCount": 1,
        "enqueuedCount": 1,
        "failedCount": 0,
        "dncBlockedNumbers": [],
        "filteredNumbers": [],
    }
    answer.update(overrides)
    return answer


@pytest.fixture
def signalhouse(stub: StubProvider) -> SignalHouseProvider:
    return SignalHouseProvider("sh-jwt", group_id="G1234567", api_url=stub.url, read_timeout=1)


def test_signalhouse_send_uses_digits_and_its_idempotency_key(
    stub: StubProvider, signalhouse: SignalHouseProvider
) -> None:
    stub.on("POST", "/message/sms", 201, signalhouse_answer())
    accepted = signalhouse.send(send_command(status_callback_url="https://hooks.test/sh"))
    assert accepted == SendAccepted("signalhouse", SH_ID, MessageStatus.QUEUED, 1)
    request = stub.only_request()
    assert request.headers["authorization"] == "Bearer sh-jwt"
    assert request.headers["idempotency-key"] == "lead-1:intro:2026-03-02"
    assert request.json() == {
        "senderPhoneNumber": "14155550100",
        "recipientPhoneNumber": ["14155550123"],
        "messageBody": "Hi Ana",
        "enableShortlink": False,
        "statusCallbackUrl": "https://hooks.test/sh",
    }


def test_signalhouse_mms_is_multipart_with_media_urls(
    stub: StubProvider, signalhouse: SignalHouseProvider
) -> None:
    stub.on("POST", "/message/mms", 201, signalhouse_answer(message={"messageType": "MMS"}))
    signalhouse.send(send_command(media_urls=("https://x.test/a.jpg",)))
    request = stub.only_request()
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert request.headers["idempotency-key"] == "lead-1:intro:2026-03-02"
    fields = request.multipart()
    assert fields["senderPhoneNumber"] == "14155550100"
    assert json.loads(fields["recipientPhoneNumber"]) == ["14155550123"]
    assert json.loads(fields["mediaUrls"]) == ["https://x.test/a.jpg"]
    assert fields["messageBody"] == "Hi Ana"


@pytest.mark.parametrize(
    ("answer", "kind", "code"),
    [
        (
            signalhouse_answer(
                enqueuedCount=0,
                failedCount=1,
                message={"status": "FAILED", "errorCode": "OUT"},
            ),
            K.UNSUBSCRIBED,
            "OUT",
        ),
        (
            signalhouse_answer(
                insertedMessages=[], enqueuedCount=0, dncBlockedNumbers=["14155550123"]
            ),
            K.UNSUBSCRIBED,
            None,
        ),
        (
            signalhouse_answer(
                insertedMessages=[], enqueuedCount=0, filteredNumbers=["14155550123"]
            ),
            K.NOT_SMS_CAPABLE,
            None,
        ),
        (
            signalhouse_answer(enqueuedCount=0, failedCount=1, message={"status": "FAILED"}),
            K.FILTERED,
            None,
        ),
    ],
)
def test_signalhouse_201_that_enqueued_nothing_is_an_error(
    stub: StubProvider,
    signalhouse: SignalHouseProvider,
    answer: dict[str, Any],
    kind: ProviderErrorKind,
    code: str | None,
) -> None:
    stub.on("POST", "/message/sms", 201, answer)
    with pytest.raises(ProviderError) as raised:
        signalhouse.send(send_command())
    assert (raised.value.kind, raised.value.code, raised.value.http_status) == (kind, code, 201)
    assert not raised.value.retryable


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, K.AUTH), (403, K.AUTH), (400, K.REJECTED), (429, K.RETRYABLE), (500, K.RETRYABLE)],
)
def test_signalhouse_http_errors_map_to_kinds(
    stub: StubProvider, signalhouse: SignalHouseProvider, status: int, kind: ProviderErrorKind
) -> None:
    stub.on("POST", "/message/sms", status, {"message": f"refused with {status}"})
    with pytest.raises(ProviderError) as raised:
        signalhouse.send(send_command())
    assert (raised.value.kind, raised.value.reason) == (kind, f"refused with {status}")


def test_signalhouse_find_sent_lists_the_groups_messages(
    stub: StubProvider, signalhouse: SignalHouseProvider
) -> None:
    message = signalhouse_answer()["insertedMessages"][0]
    stub.on("GET", "/message", 200, {"data": [dict(message, status="DELIVERED")]})
    found = signalhouse.find_sent(send_command(), datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC))
    assert found == SendAccepted("signalhouse", SH_ID, MessageStatus.DELIVERED, 1)
    query = stub.only_request().query
    assert query["groupId"] == ["G1234567"]
    assert query["senderPhoneNumber"] == ["14155550100"]
    assert query["recipientPhoneNumber"] == ["14155550123"]
    assert query["startDate"] == ["2026-03-02"]
    assert (
        signalhouse.find_sent(send_command(body="other"), datetime(2026, 3, 2, tzinfo=UTC)) is None
    )


def test_signalhouse_find_sent_needs_the_group(stub: StubProvider) -> None:
    provider = SignalHouseProvider("sh-jwt", api_url=stub.url)
    with pytest.raises(ProviderError) as raised:
        provider.find_sent(send_command(), datetime(2026, 3, 2, tzinfo=UTC))
    assert raised.value.kind == K.AUTH
    assert stub.requests == []
