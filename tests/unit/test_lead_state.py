from __future__ import annotations

import itertools

import pytest

from tether.domain.errors import InvalidTransition
from tether.domain.lead_state import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATES,
    LeadState,
    can_transition,
    leaves_suppression,
    transition,
    transition_pairs,
)

S = LeadState
MAIN_LINE = [
    S.NEW,
    S.TOUCHED,
    S.RESPONDED,
    S.EMAIL_CAPTURED,
    S.HIGH_INTENT,
    S.IN_CALL_QUEUE,
    S.CLOSED,
]


def test_main_line_is_walkable() -> None:
    for current, target in itertools.pairwise(MAIN_LINE):
        assert transition(current, target) == target


@pytest.mark.parametrize("state", [s for s in S if s is not S.SUPPRESSED])
def test_every_state_can_be_suppressed(state: LeadState) -> None:
    assert can_transition(state, S.SUPPRESSED)


@pytest.mark.parametrize("target", [s for s in S if s is not S.RESPONDED])
def test_suppressed_is_left_only_for_responded(target: LeadState) -> None:
    with pytest.raises(InvalidTransition, match="only by re-subscribe"):
        transition(S.SUPPRESSED, target)
    assert transition(S.SUPPRESSED, S.RESPONDED) is S.RESPONDED
    assert leaves_suppression(S.SUPPRESSED, S.RESPONDED)
    assert not TERMINAL_STATES  # the way out is guarded (re-subscribe), not absent


def test_no_self_loops_and_every_state_has_a_row() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(S)
    assert all(state not in targets for state, targets in ALLOWED_TRANSITIONS.items())


def test_every_state_is_reachable_from_new() -> None:
    seen, frontier = {S.NEW}, [S.NEW]
    while frontier:
        for target in ALLOWED_TRANSITIONS[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(S)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.TOUCHED, S.NEW),
        (S.HIGH_INTENT, S.EMAIL_CAPTURED),
        (S.HIGH_INTENT, S.RESPONDED),
        (S.NEW, S.IN_CALL_QUEUE),  # a call needs intent first
        (S.CLOSED, S.HIGH_INTENT),
    ],
)
def test_backward_and_skipping_moves_are_refused(current: LeadState, target: LeadState) -> None:
    with pytest.raises(InvalidTransition) as error:
        transition(current, target)
    assert (error.value.current, error.value.target) == (current.value, target.value)


def test_a_closed_lead_who_replies_is_live_again() -> None:
    assert can_transition(S.CLOSED, S.RESPONDED)


def test_pairs_are_the_table() -> None:
    pairs = transition_pairs()
    assert len(pairs) == sum(len(t) for t in ALLOWED_TRANSITIONS.values())
    assert ("closed", "suppressed") in pairs
