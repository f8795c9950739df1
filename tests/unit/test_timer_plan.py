"""What a due timer does, decided without I/O (tether.domain.timers)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from tether.domain.lead_state import LeadState
from tether.domain.timers import (
    Action,
    DueTimer,
    Firing,
    TimerType,
    plan_firing,
    retry_delay,
    timer_send_key,
)

CURRENT, TARGET = uuid.uuid4(), uuid.uuid4()


def due(timer_type: TimerType = TimerType.TIMER_7D, **changes: object) -> DueTimer:
    timer = DueTimer(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        lead_id=uuid.uuid4(),
        timer_type=timer_type,
        attempts=0,
        max_attempts=3,
        lead_state=LeadState.TOUCHED,
        lead_campaign_id=CURRENT,
        step_action=None,
        step_campaign_id=None,
        suppressed=False,
        superseded=False,
    )
    return replace(timer, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("timer_type", "expected"),
    [
        (TimerType.TIMER_7D, Firing(Action.FOLLOW_UP, CURRENT)),
        (TimerType.TIMER_14D, Firing(Action.FOLLOW_UP, CURRENT)),
        (TimerType.TIMER_30D, Firing(Action.CLOSE)),
        (TimerType.FOLLOW_UP, Firing(Action.FOLLOW_UP, CURRENT)),
        (TimerType.CALLBACK, Firing(Action.CALL)),
    ],
)
def test_without_a_step_each_type_does_its_default(timer_type: TimerType, expected: Firing) -> None:
    assert plan_firing(due(timer_type)) == expected


def test_a_move_goes_to_the_steps_campaign() -> None:
    timer = due(step_action=Action.MOVE, step_campaign_id=TARGET)
    assert plan_firing(timer) == Firing(Action.MOVE, TARGET)


def test_a_move_to_the_campaign_the_lead_is_in_is_a_follow_up() -> None:
    timer = due(step_action=Action.MOVE, step_campaign_id=CURRENT)
    assert plan_firing(timer) == Firing(Action.FOLLOW_UP, CURRENT)


def test_a_close_step_closes() -> None:
    assert plan_firing(due(step_action=Action.CLOSE)) == Firing(Action.CLOSE)


@pytest.mark.parametrize("timer_type", list(TimerType))
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"suppressed": True}, "lead opted out"),
        ({"lead_state": LeadState.SUPPRESSED}, "lead opted out"),
        ({"lead_state": LeadState.CLOSED}, "lead closed"),
    ],
)
def test_no_timer_fires_for_an_opted_out_or_closed_lead(
    timer_type: TimerType, changes: dict[str, object], reason: str
) -> None:
    assert plan_firing(due(timer_type, **changes)) == Firing(Action.CANCEL, reason=reason)


@pytest.mark.parametrize(
    "state",
    [LeadState.RESPONDED, LeadState.EMAIL_CAPTURED, LeadState.HIGH_INTENT, LeadState.IN_CALL_QUEUE],
)
def test_escalations_stop_once_the_lead_answered_but_follow_ups_and_callbacks_do_not(
    state: LeadState,
) -> None:
    for timer_type in (TimerType.TIMER_7D, TimerType.TIMER_14D, TimerType.TIMER_30D):
        assert plan_firing(due(timer_type, lead_state=state)).reason == "lead replied"
    assert plan_firing(due(TimerType.FOLLOW_UP, lead_state=state)).action is Action.FOLLOW_UP
    assert plan_firing(due(TimerType.CALLBACK, lead_state=state)).action is Action.CALL


def test_a_superseded_escalation_is_cancelled() -> None:
    firing = plan_firing(due(superseded=True, step_action=Action.MOVE, step_campaign_id=TARGET))
    assert firing == Firing(Action.CANCEL, reason="superseded by a later escalation")


def test_a_follow_up_needs_a_campaign() -> None:
    firing = plan_firing(due(TimerType.FOLLOW_UP, lead_campaign_id=None))
    assert firing == Firing(Action.CANCEL, reason="lead is in no campaign")


def test_retries_back_off_per_attempt_and_the_send_key_names_the_timer() -> None:
    assert [retry_delay(n) for n in (0, 1, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(minutes=3),
    ]
    timer_id = uuid.uuid4()
    assert timer_send_key(timer_id) == f"timer:{timer_id}"
