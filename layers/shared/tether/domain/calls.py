"""Seed 001's three call outcomes (booked, no booking, no answer), read from what the
voice side reports about a call.

- A VAPI end-of-call report says how the call ended (``endedReason``) and what the
  call's analysis extracted (``analysis.structuredData``). VAPI has hundreds of ended
  reasons and adds more, so the ones that mean a person talked are listed
  (``ANSWERED_ENDED_REASONS`` and their prefixes) and every other one counts as not
  answered: a new failure code must lead to a retry, never to a silent release.
- A Twilio or SignalWire call status callback knows only the call's status: busy,
  no-answer, failed and canceled are no answer; completed is no booking, or no answer
  when answering-machine detection says a machine answered. A callback alone cannot
  know of a booking: only the hints the caller put on the callback URL (signed with
  it) can say booked, as ``outcome=booked&appointment_at=<ISO 8601 with zone>``.

A booking needs its appointment time with a zone (the release is 24 h after it): one
reported without a readable time is held as no booking, and the event says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from tether.domain.leases import CallOutcome

# The providers whose call outcomes POST /webhooks/voice/{provider}/{account_id} reads.
VOICE_WEBHOOK_PROVIDER_NAMES = frozenset({"vapi", "twilio", "signalwire"})

# Twilio's call statuses (SignalWire's compatibility API uses the same words).
NO_ANSWER_CALL_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled"})
TERMINAL_CALL_STATUSES = NO_ANSWER_CALL_STATUSES | {"completed"}

# VAPI ended reasons after which a person was on the line.
ANSWERED_ENDED_REASONS = frozenset(
    {
        "assistant-said-end-call-phrase",
        "assistant-forwarded-call",
        "exceeded-max-duration",
    }
)
ANSWERED_ENDED_REASON_PREFIXES = ("customer-ended-call", "assistant-ended-call")

# What a report's structured data (or a callback URL's hints) may name the outcome as.
_OUTCOME_WORDS: dict[str, CallOutcome] = {
    "booked": CallOutcome.BOOKED,
    "no_booking": CallOutcome.NO_BOOKING,
    "no-booking": CallOutcome.NO_BOOKING,
    "not_booked": CallOutcome.NO_BOOKING,
    "no_answer": CallOutcome.NO_ANSWER,
    "no-answer": CallOutcome.NO_ANSWER,
}
OUTCOME_KEYS = ("outcome", "callOutcome", "call_outcome")
BOOKED_KEYS = ("booked", "appointmentBooked", "appointment_booked")
APPOINTMENT_KEYS = ("appointment_at", "appointmentAt", "appointment_time", "appointmentTime")
LEAD_ID_KEYS = ("tether_lead_id", "lead_id", "leadId")

BOOKED_WITHOUT_TIME = (
    "reported booked without a readable appointment time (ISO 8601 with its zone):"
    " held as no booking"
)

_AWARE: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


@dataclass(frozen=True, slots=True)
class ReadOutcome:
    outcome: CallOutcome
    appointment_at: datetime | None = None
    note: str | None = None


def vapi_answered(ended_reason: str) -> bool:
    """True when a VAPI call that ended so had a person on the line."""
    reason = ended_reason.strip().lower()
    return reason in ANSWERED_ENDED_REASONS or reason.startswith(ANSWERED_ENDED_REASON_PREFIXES)


def call_status_answered(status: str, answered_by: str | None = None) -> bool | None:
    """A Twilio/SignalWire call status as answered (True), not (False), or None for a
    status that is not the call's end (queued, ringing, in-progress...)."""
    word = status.strip().lower()
    if word not in TERMINAL_CALL_STATUSES:
        return None
    if word in NO_ANSWER_CALL_STATUSES:
        return False
    # answering-machine detection: machine_start, machine_end_beep, fax... no person
    machine = (answered_by or "").strip().lower()
    return not machine.startswith(("machine", "fax"))


def read_outcome(answered: bool, hints: Mapping[str, object]) -> ReadOutcome:
    """The outcome of a call, given whether a person answered and what the caller's
    analysis or metadata (`hints`) says. A booking with its appointment time wins (a
    booking proves a conversation, whatever the ended reason); then a call nobody
    answered, or one the hints call unanswered, is no answer; else no booking."""
    said = hinted_outcome(hints)
    appointment = hinted_appointment(hints)
    booked = said is CallOutcome.BOOKED or (said is None and appointment is not None)
    if booked and appointment is not None:
        return ReadOutcome(CallOutcome.BOOKED, appointment)
    if not answered or said is CallOutcome.NO_ANSWER:
        return ReadOutcome(CallOutcome.NO_ANSWER)
    return ReadOutcome(CallOutcome.NO_BOOKING, note=BOOKED_WITHOUT_TIME if booked else None)


def hinted_outcome(hints: Mapping[str, object]) -> CallOutcome | None:
    for key in OUTCOME_KEYS:
        value = hints.get(key)
        if isinstance(value, str) and value.strip().lower() in _OUTCOME_WORDS:
            return _OUTCOME_WORDS[value.strip().lower()]
    for key in BOOKED_KEYS:
        flag = _flag(hints.get(key))
        if flag is not None:
            return CallOutcome.BOOKED if flag else CallOutcome.NO_BOOKING
    return None


def hinted_appointment(hints: Mapping[str, object]) -> datetime | None:
    """The appointment time the hints name, in UTC: ISO 8601 with a zone (a time
    without one could be any of 38 zones' and is not read)."""
    for key in APPOINTMENT_KEYS:
        value = hints.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            continue
        try:
            return _AWARE.validate_python(value.strip()).astimezone(UTC)
        except (ValidationError, ValueError, OverflowError):
            continue
    return None


def hinted_lead_id(hints: Mapping[str, object]) -> str | None:
    for key in LEAD_ID_KEYS:
        value = hints.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:100]
    return None


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    return None
