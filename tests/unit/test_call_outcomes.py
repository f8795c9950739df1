"""Seed 001's call outcomes read from what the voice side reports (tether.domain.calls)
and the voice webhook parsers (tether.webhooks.providers.voice), for whole classes of
input: every call status and ended reason, any structured data, any JSON body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.domain.calls import (
    ANSWERED_ENDED_REASONS,
    BOOKED_WITHOUT_TIME,
    NO_ANSWER_CALL_STATUSES,
    TERMINAL_CALL_STATUSES,
    call_status_answered,
    read_outcome,
    vapi_answered,
)
from tether.domain.events import CallOutcomeReport
from tether.domain.leases import CallOutcome
from tether.webhooks.errors import MalformedPayload
from tether.webhooks.providers.base import ParsedDelivery
from tether.webhooks.providers.voice import SignalWireVoice, TwilioVoice, Vapi
from tether.webhooks.request import PublicUrl, WebhookRequest

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
LEAD, OURS = "+14155552671", "+16502530000"
TWILIO_STATUSES = [*sorted(TERMINAL_CALL_STATUSES), "queued", "ringing", "in-progress", "initiated"]
VAPI_REASONS = [
    *sorted(ANSWERED_ENDED_REASONS),
    "customer-ended-call",
    "assistant-ended-call-after-message-spoken",
    "customer-did-not-answer",
    "customer-busy",
    "voicemail",
    "silence-timed-out",
    "call.start.error-get-transport",
    "pipeline-error-openai-llm-failed",
    "twilio-failed-to-connect-call",
]
appointments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 (hypothesis takes naive bounds)
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
hint_values = st.one_of(st.none(), st.booleans(), st.text(max_size=30), st.integers())


def request(body: bytes, media_type: str, query: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        provider="x",
        account_id="a",
        headers={"content-type": media_type},
        body=body,
        url=PublicUrl(
            scheme="https", host="h", path="/webhooks/voice/x/a", query=tuple((query or {}).items())
        ),
        voice=True,
    )


@given(
    status=st.one_of(st.sampled_from(TWILIO_STATUSES), st.text(max_size=20)),
    answered_by=st.one_of(
        st.none(), st.sampled_from(["human", "machine_start", "machine_end_beep", "fax", "unknown"])
    ),
)
def test_a_call_status_is_an_outcome_only_at_the_calls_end(
    status: str, answered_by: str | None
) -> None:
    answered = call_status_answered(status, answered_by)
    word = status.strip().lower()
    if word not in TERMINAL_CALL_STATUSES:
        assert answered is None
    elif word in NO_ANSWER_CALL_STATUSES:
        assert answered is False
    else:  # completed: a person, unless answering-machine detection heard a machine
        assert answered is (not (answered_by or "").startswith(("machine", "fax")))


@given(reason=st.one_of(st.sampled_from(VAPI_REASONS), st.text(max_size=60)))
def test_only_the_listed_vapi_ended_reasons_mean_a_person_answered(reason: str) -> None:
    answered = vapi_answered(reason)
    text = reason.strip().lower()
    listed = text in ANSWERED_ENDED_REASONS or text.startswith(
        ("customer-ended-call", "assistant-ended-call")
    )
    assert answered is listed
    # with nothing else said, an unanswered call is no answer, an answered one no booking
    assert read_outcome(answered, {}).outcome is (
        CallOutcome.NO_BOOKING if listed else CallOutcome.NO_ANSWER
    )


@given(
    answered=st.booleans(),
    hints=st.dictionaries(
        st.sampled_from(["outcome", "booked", "appointmentTime", "appointment_at", "other"]),
        hint_values,
    ),
)
def test_a_booking_always_has_its_time_and_nothing_else_does(
    answered: bool, hints: dict[str, Any]
) -> None:
    read = read_outcome(answered, hints)
    assert (read.outcome is CallOutcome.BOOKED) == (read.appointment_at is not None)
    if read.note == BOOKED_WITHOUT_TIME:
        assert read.outcome is CallOutcome.NO_BOOKING


@given(answered=st.booleans(), appointment=appointments, key=st.sampled_from(["booked", "outcome"]))
def test_a_booking_with_its_time_wins_whatever_the_call_ended_as(
    answered: bool, appointment: datetime, key: str
) -> None:
    hints = {key: True if key == "booked" else "booked", "appointmentTime": appointment.isoformat()}
    read = read_outcome(answered, hints)
    assert (read.outcome, read.appointment_at) == (CallOutcome.BOOKED, appointment)
    # a time without its zone could be any zone's: not read, so no booking (or no answer)
    naive = {key: hints[key], "appointmentTime": appointment.replace(tzinfo=None).isoformat()}
    assert read_outcome(answered, naive).outcome is not CallOutcome.BOOKED


@settings(max_examples=60)
@given(
    provider=st.sampled_from([TwilioVoice(), SignalWireVoice()]),
    status=st.sampled_from(TWILIO_STATUSES),
    inbound=st.booleans(),
    booked=st.booleans(),
)
def test_call_status_callbacks_parse_to_their_outcome(
    provider: TwilioVoice, status: str, inbound: bool, booked: bool
) -> None:
    params = {
        "CallSid": "CA1",
        "CallStatus": status,
        "Direction": "inbound" if inbound else "outbound-api",
        "From": LEAD if inbound else OURS,
        "To": OURS if inbound else LEAD,
        "Timestamp": "Sat, 21 Nov 2026 14:59:30 +0000",
    }
    appointment = NOW + timedelta(days=1)
    query = {"outcome": "booked", "appointment_at": appointment.isoformat()} if booked else None
    parsed = provider.parse(
        request(urlencode(params).encode(), "application/x-www-form-urlencoded", query), NOW
    )
    assert parsed.identity == f"CA1:{status}"
    if status not in TERMINAL_CALL_STATUSES:
        assert parsed.event is None
        return
    event = parsed.event
    assert isinstance(event, CallOutcomeReport)
    assert (event.customer_address, event.our_address) == (LEAD, OURS)
    assert event.occurred_at == NOW - timedelta(seconds=30)
    if booked:  # the signed URL's hints say booked: that is all a callback can know
        assert (event.outcome, event.appointment_at) == (CallOutcome.BOOKED, appointment)
    elif status == "completed":
        assert event.outcome is CallOutcome.NO_BOOKING
    else:
        assert event.outcome is CallOutcome.NO_ANSWER


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150)
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {
                "message": st.fixed_dictionaries(
                    {"type": st.just("end-of-call-report")},
                    optional={
                        "call": json_values,
                        "endedReason": json_values,
                        "analysis": json_values,
                        "customer": json_values,
                        "phoneNumber": json_values,
                        "endedAt": json_values,
                    },
                )
            }
        ),
    )
)
def test_any_json_body_is_a_report_kept_or_a_400_never_a_crash(body: Any) -> None:
    parsed: ParsedDelivery | MalformedPayload
    try:
        parsed = Vapi().parse(request(json.dumps(body).encode(), "application/json"), NOW)
    except MalformedPayload as error:
        parsed = error
    if isinstance(parsed, MalformedPayload):
        assert parsed.reason  # says what is wrong
        return
    assert parsed.identity
    assert parsed.event is None or isinstance(parsed.event, CallOutcomeReport)


@pytest.mark.parametrize(
    ("header", "value"),
    [("x-vapi-signature", "0" * 64), ("x-vapi-secret", "wrong"), ("authorization", "Bearer wrong")],
    ids=["hmac", "secret", "bearer"],
)
def test_vapi_verification_refuses_what_the_secret_did_not_sign(header: str, value: str) -> None:
    from tether.webhooks.errors import InvalidSignature

    signed = request(b"{}", "application/json")
    forged = signed.model_copy(update={"headers": {**signed.headers, header: value}})
    with pytest.raises(InvalidSignature):
        Vapi().verify(forged, ["the-secret"], NOW)


@settings(max_examples=150)
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(["CallSid", "CallStatus", "From", "To", "Direction", "AnsweredBy",
                             "Timestamp", "Other"]),
            st.one_of(st.sampled_from(TWILIO_STATUSES), st.text(max_size=40)),
        ),
        max_size=8,
    ),
    query=st.dictionaries(st.sampled_from(["lead_id", "outcome", "appointment_at", "x"]),
                          st.text(max_size=40), max_size=3),
)  # fmt: skip
def test_any_call_status_form_is_a_kept_callback_or_a_400_never_a_crash(
    params: list[tuple[str, str]], query: dict[str, str]
) -> None:
    body = urlencode(params).encode()
    parsed: ParsedDelivery | MalformedPayload
    try:
        parsed = TwilioVoice().parse(request(body, "application/x-www-form-urlencoded", query), NOW)
    except MalformedPayload as error:
        parsed = error
    if isinstance(parsed, MalformedPayload):
        assert parsed.reason
        return
    event = parsed.event
    assert event is None or isinstance(event, CallOutcomeReport)
    if isinstance(event, CallOutcomeReport):
        assert (event.outcome is CallOutcome.BOOKED) == (event.appointment_at is not None)
