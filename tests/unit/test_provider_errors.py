"""Each provider's table from HTTP status and error code to what the caller does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tether.domain.errors import InvalidPhoneNumber
from tether.providers.base import ProviderError, ProviderErrorKind, SendCommand, kind_for
from tether.providers.sandbox import (
    SANDBOX_ERROR_KINDS,
    SandboxErrorCode,
    classify_sandbox_error,
)
from tether.providers.signalhouse import (
    classify_signalhouse_block,
    classify_signalhouse_error,
    signalhouse_number,
)
from tether.providers.signalwire import classify_signalwire_error, space_api_url
from tether.providers.telnyx import classify_telnyx_error
from tether.providers.twilio import classify_twilio_error
from tether_dev.sandbox.faults import FAULT_ANSWERS, SandboxFault

K = ProviderErrorKind
Classify = Callable[[int | None, str | None], ProviderErrorKind]


@pytest.mark.parametrize(
    ("http_status", "kind"),
    [
        (None, K.RETRYABLE),  # no answer at all
        (400, K.REJECTED),
        (401, K.AUTH),
        (403, K.AUTH),
        (404, K.REJECTED),
        (408, K.RETRYABLE),
        (422, K.REJECTED),
        (429, K.RETRYABLE),
        (500, K.RETRYABLE),
        (502, K.RETRYABLE),
        (503, K.RETRYABLE),
    ],
)
def test_http_status_decides_when_the_code_is_unknown(
    http_status: int | None, kind: ProviderErrorKind
) -> None:
    assert kind_for(http_status, None, {}) == kind
    assert kind_for(http_status, "99999", {}) == kind


def test_a_known_code_wins_over_the_http_status() -> None:
    assert kind_for(400, "STOP", {"STOP": K.UNSUBSCRIBED}) == K.UNSUBSCRIBED
    assert kind_for(500, "STOP", {"STOP": K.UNSUBSCRIBED}) == K.UNSUBSCRIBED


@pytest.mark.parametrize(
    ("http_status", "code", "kind"),
    [
        (400, "21610", K.UNSUBSCRIBED),
        (400, "21211", K.INVALID_NUMBER),
        (400, "21614", K.NOT_SMS_CAPABLE),
        (400, "21612", K.NOT_SMS_CAPABLE),
        (400, "21635", K.LANDLINE),
        (None, "30007", K.FILTERED),  # a delivery failure reported on a status callback
        (None, "30001", K.RETRYABLE),
        (None, "30003", K.RETRYABLE),
        (None, "30005", K.INVALID_NUMBER),
        (None, "30006", K.LANDLINE),
        (401, "20003", K.AUTH),
        (404, "20404", K.AUTH),
        (400, "21606", K.AUTH),
        (429, "20429", K.RETRYABLE),
        (400, "21617", K.REJECTED),
        (400, "21999", K.REJECTED),  # unknown code on a 400
        (503, None, K.RETRYABLE),
    ],
)
def test_twilio(http_status: int | None, code: str | None, kind: ProviderErrorKind) -> None:
    assert classify_twilio_error(http_status, code) == kind


@pytest.mark.parametrize(
    ("http_status", "code", "kind"),
    [
        (400, "21610", K.UNSUBSCRIBED),
        (None, "30004", K.UNSUBSCRIBED),  # SignalWire: "message blocked or opted out"
        (400, "21217", K.INVALID_NUMBER),
        (None, "30005", K.INVALID_NUMBER),
        (None, "30006", K.LANDLINE),
        (None, "30007", K.FILTERED),
        (None, "30003", K.RETRYABLE),
        (None, "30022", K.RETRYABLE),
        (None, "30027", K.RETRYABLE),
        (400, "21717", K.AUTH),  # number not on a 10DLC campaign
        (401, None, K.AUTH),
        (422, "21602", K.REJECTED),
    ],
)
def test_signalwire(http_status: int | None, code: str | None, kind: ProviderErrorKind) -> None:
    assert classify_signalwire_error(http_status, code) == kind


@pytest.mark.parametrize(
    ("http_status", "code", "kind"),
    [
        (409, "40300", K.UNSUBSCRIBED),  # blocked due to a STOP message
        (400, "10002", K.INVALID_NUMBER),
        (400, "10001", K.INVALID_NUMBER),
        (None, "40012", K.INVALID_NUMBER),
        (None, "40001", K.LANDLINE),
        (None, "40002", K.FILTERED),
        (None, "40003", K.FILTERED),
        (None, "40015", K.FILTERED),
        (None, "40006", K.RETRYABLE),
        (None, "40011", K.RETRYABLE),
        (None, "40014", K.RETRYABLE),
        (None, "40013", K.AUTH),
        (401, "10009", K.AUTH),
        (429, "10011", K.RETRYABLE),
        (None, "40008", K.REJECTED),
        (422, None, K.REJECTED),
    ],
)
def test_telnyx(http_status: int | None, code: str | None, kind: ProviderErrorKind) -> None:
    assert classify_telnyx_error(http_status, code) == kind


@pytest.mark.parametrize(
    ("http_status", "code", "kind"),
    [
        (401, None, K.AUTH),
        (403, None, K.AUTH),
        (429, None, K.RETRYABLE),
        (500, None, K.RETRYABLE),
        (409, None, K.RETRYABLE),  # the first request with this key still in flight
        (400, None, K.REJECTED),
        (422, None, K.REJECTED),
    ],
)
def test_signalhouse_http_errors(
    http_status: int | None, code: str | None, kind: ProviderErrorKind
) -> None:
    assert classify_signalhouse_error(http_status, code) == kind


@pytest.mark.parametrize(
    ("error_code", "on_dnc", "filtered", "kind"),
    [
        ("OUT", False, False, K.UNSUBSCRIBED),  # campaign opt-out
        (None, True, False, K.UNSUBSCRIBED),  # global Do Not Contact list
        (None, False, True, K.NOT_SMS_CAPABLE),  # landline/inactive filter
        (None, False, False, K.FILTERED),  # moderation block: FAILED with no code
    ],
)
def test_signalhouse_sends_answered_201_but_not_enqueued(
    error_code: str | None, on_dnc: bool, filtered: bool, kind: ProviderErrorKind
) -> None:
    assert (
        classify_signalhouse_block(error_code, on_do_not_contact_list=on_dnc, filtered_out=filtered)
        == kind
    )


@pytest.mark.parametrize("fault", [f for f in SandboxFault if f != SandboxFault.TIMEOUT])
def test_every_sandbox_fault_answers_a_code_its_adapter_classifies(fault: SandboxFault) -> None:
    answer = FAULT_ANSWERS[fault]
    expected = {
        SandboxFault.RATE_LIMITED: K.RETRYABLE,
        SandboxFault.SERVER_ERROR: K.RETRYABLE,
        SandboxFault.UNSUBSCRIBED: K.UNSUBSCRIBED,
        SandboxFault.INVALID_NUMBER: K.INVALID_NUMBER,
        SandboxFault.NOT_SMS_CAPABLE: K.NOT_SMS_CAPABLE,
        SandboxFault.LANDLINE: K.LANDLINE,
        SandboxFault.FILTERED: K.FILTERED,
        SandboxFault.REJECTED: K.REJECTED,
    }[fault]
    assert classify_sandbox_error(answer.http_status, answer.code) == expected


def test_every_sandbox_error_code_is_in_its_adapters_table() -> None:
    assert set(SANDBOX_ERROR_KINDS) == {str(code) for code in SandboxErrorCode}


def test_provider_error_carries_what_the_caller_needs() -> None:
    error = ProviderError(
        "twilio", K.UNSUBSCRIBED, "unsubscribed recipient", code="21610", http_status=400
    )
    assert not error.retryable
    assert (error.provider, error.code, error.http_status) == ("twilio", "21610", 400)
    assert "21610" in str(error)
    assert "unsubscribed recipient" in str(error)
    assert ProviderError("telnyx", K.RETRYABLE, "no answer", may_have_sent=True).retryable


@pytest.mark.parametrize("number", ["4155550123", "+0155550123", "+1 415 555 0123", ""])
def test_a_send_command_takes_e164_only(number: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        SendCommand(number, "+14155550123", "hi", "key")
    with pytest.raises(InvalidPhoneNumber):
        SendCommand("+14155550123", number, "hi", "key")


def test_a_send_command_needs_its_key() -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        SendCommand("+14155550100", "+14155550123", "hi", "")


def test_number_and_url_forms() -> None:
    assert signalhouse_number("+14155550123") == "14155550123"
    assert space_api_url("acme.signalwire.com") == "https://acme.signalwire.com/api/laml/2010-04-01"
    assert space_api_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/api/laml/2010-04-01"
