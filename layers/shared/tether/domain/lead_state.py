"""The lead state machine (seed 002, part 3).

The main line is the path of a lead that converts::

    NEW → TOUCHED → RESPONDED → EMAIL_CAPTURED → HIGH_INTENT → IN_CALL_QUEUE → CLOSED

and SUPPRESSED is left only by re-subscribe. The full table below adds only moves that a real
conversation produces; each is justified here because the database enforces the very
same table (migration 0003 copies it into ``lead_state_transitions``, and a test proves
the two agree):

- **Every state → SUPPRESSED**, CLOSED included: an opt-out is honoured whatever the
  lead's state.
- **SUPPRESSED → RESPONDED, only by re-subscribe** (issue 19): the lead's own START or
  UNSTOP, or a consent the phone gave after the suppression. RESPONDED because the
  person acted towards us either way; the states before the opt-out stay in the lead's
  events. The move is guarded twice: the service records it as a RESUBSCRIBED event
  naming its cause, and the database refuses it without such an event whose cause it
  can prove (migration 0027), so a plain UPDATE cannot free a lead.
- **Skips forward on one reply.** A single inbound text can answer, give an email and
  ask for a call at once, so NEW and TOUCHED may jump to RESPONDED, EMAIL_CAPTURED or
  HIGH_INTENT, and RESPONDED may jump to HIGH_INTENT. NEW is there because a lead can
  text first (an imported lead replying to an older conversation).
- **No backward moves on the main line, with one exception:** IN_CALL_QUEUE →
  HIGH_INTENT, when a queued call ends without a result (no answer) and the lead waits
  for the next attempt. A later email does not demote HIGH_INTENT: the email is data
  on the lead, not a state.
- **CLOSED from every active state**: a booked call, a "not interested", a wrong
  number or the 30-day timer ends the conversation wherever it stands.
- **CLOSED → RESPONDED**: a closed lead who writes again is a live conversation again;
  dropping the reply would break the rule that every reply finds its thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from tether.domain.errors import InvalidTransition


class LeadState(StrEnum):
    NEW = "new"
    TOUCHED = "touched"
    RESPONDED = "responded"
    EMAIL_CAPTURED = "email_captured"
    HIGH_INTENT = "high_intent"
    IN_CALL_QUEUE = "in_call_queue"
    CLOSED = "closed"
    SUPPRESSED = "suppressed"


_S = LeadState

ALLOWED_TRANSITIONS: Mapping[LeadState, frozenset[LeadState]] = {
    _S.NEW: frozenset(
        {_S.TOUCHED, _S.RESPONDED, _S.EMAIL_CAPTURED, _S.HIGH_INTENT, _S.CLOSED, _S.SUPPRESSED}
    ),
    _S.TOUCHED: frozenset(
        {_S.RESPONDED, _S.EMAIL_CAPTURED, _S.HIGH_INTENT, _S.CLOSED, _S.SUPPRESSED}
    ),
    _S.RESPONDED: frozenset({_S.EMAIL_CAPTURED, _S.HIGH_INTENT, _S.CLOSED, _S.SUPPRESSED}),
    _S.EMAIL_CAPTURED: frozenset({_S.HIGH_INTENT, _S.CLOSED, _S.SUPPRESSED}),
    _S.HIGH_INTENT: frozenset({_S.IN_CALL_QUEUE, _S.CLOSED, _S.SUPPRESSED}),
    _S.IN_CALL_QUEUE: frozenset({_S.HIGH_INTENT, _S.CLOSED, _S.SUPPRESSED}),
    _S.CLOSED: frozenset({_S.RESPONDED, _S.SUPPRESSED}),
    _S.SUPPRESSED: frozenset({_S.RESPONDED}),
}

TERMINAL_STATES = frozenset(state for state, moves in ALLOWED_TRANSITIONS.items() if not moves)
# The event a move out of SUPPRESSED is recorded as; its payload names the cause
# ({"message_id": the START} or {"consent_id": the consent}), which the database checks.
RESUBSCRIBED = "RESUBSCRIBED"
RESUBSCRIBE_TARGET = _S.RESPONDED


def can_transition(current: LeadState, target: LeadState) -> bool:
    """True when the state machine allows moving a lead from `current` to `target`."""
    return target in ALLOWED_TRANSITIONS[current]


def transition(current: LeadState, target: LeadState) -> LeadState:
    """Return `target` if the move is allowed, else raise InvalidTransition."""
    if not can_transition(current, target):
        detail = (
            "suppressed is left only by re-subscribe, to responded"
            if current is _S.SUPPRESSED
            else None
        )
        raise InvalidTransition(current.value, target.value, detail)
    return target


def leaves_suppression(current: LeadState, target: LeadState) -> bool:
    """True for the guarded move: only a re-subscribe (START/UNSTOP, a newer consent)
    may make it."""
    return current is _S.SUPPRESSED and target is not _S.SUPPRESSED


def transition_pairs() -> frozenset[tuple[str, str]]:
    """The table as (from, to) value pairs, the shape the database stores."""
    return frozenset(
        (current.value, target.value)
        for current, targets in ALLOWED_TRANSITIONS.items()
        for target in targets
    )
