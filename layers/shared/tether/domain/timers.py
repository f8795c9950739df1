"""Lead timers (seed 002 part 5): what a due timer does, decided without I/O.

First touch schedules the 7-, 14- and 30-day timers; a reply, an opt-out or a closed
conversation cancels them. A due escalation timer of a lead nobody has heard from does
what the tenant's escalation map says: move the lead to another campaign (whose worker
writes from that campaign's bound number), send a follow-up in its current campaign, or
close it. Without a step, 7D and 14D follow up and 30D closes. FOLLOW_UP (set by a
thread's insight) writes in the lead's current campaign; CALLBACK puts the lead in the
call queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from tether.domain.lead_state import LeadState


class TimerType(StrEnum):
    TIMER_7D = "TIMER_7D"
    TIMER_14D = "TIMER_14D"
    TIMER_30D = "TIMER_30D"
    FOLLOW_UP = "FOLLOW_UP"
    CALLBACK = "CALLBACK"


ESCALATIONS = (TimerType.TIMER_7D, TimerType.TIMER_14D, TimerType.TIMER_30D)

# The states of a lead that has not answered yet: only these escalate.
UNANSWERED = frozenset({LeadState.NEW, LeadState.TOUCHED})


class Action(StrEnum):
    MOVE = "move"  # to the step's campaign, and write from its bound number
    FOLLOW_UP = "follow_up"  # write again in the lead's current campaign
    CLOSE = "close"
    CALL = "call"  # into the call queue
    CANCEL = "cancel"


DEFAULT_STEPS = {
    TimerType.TIMER_7D: Action.FOLLOW_UP,
    TimerType.TIMER_14D: Action.FOLLOW_UP,
    TimerType.TIMER_30D: Action.CLOSE,
}

# What a tenant's escalation step may do (CALL and CANCEL are the job's own).
STEP_ACTIONS = frozenset({Action.MOVE, Action.FOLLOW_UP, Action.CLOSE})

FOLLOW_UP_TEXT = "Just following up on my last message. Is this still a good time to talk?"

# A failed firing waits this long per attempt before the next run tries again.
RETRY_BACKOFF = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """What one escalation timer does for a tenant; `configured` False: the default."""

    timer_type: TimerType
    action: Action
    campaign_id: UUID | None
    configured: bool


@dataclass(frozen=True, slots=True)
class DueTimer:
    """A claimed timer with what deciding needs about its lead and tenant."""

    id: UUID
    tenant_id: UUID
    lead_id: UUID
    timer_type: TimerType
    attempts: int
    max_attempts: int
    lead_state: LeadState
    lead_campaign_id: UUID | None
    step_action: Action | None
    step_campaign_id: UUID | None
    suppressed: bool  # the lead's phone is opted out of the whole tenant
    superseded: bool  # a later escalation of the lead is due too


@dataclass(frozen=True, slots=True)
class Firing:
    action: Action
    campaign_id: UUID | None = None  # where the text goes: MOVE's target, else current
    reason: str | None = None  # why CANCEL


def plan_firing(timer: DueTimer) -> Firing:
    """What firing `timer` does now. A timer whose lead has replied, opted out or closed
    since it was set is cancelled, not fired."""
    if timer.suppressed or timer.lead_state is LeadState.SUPPRESSED:
        return Firing(Action.CANCEL, reason="lead opted out")
    if timer.lead_state is LeadState.CLOSED:
        return Firing(Action.CANCEL, reason="lead closed")
    if timer.timer_type is TimerType.CALLBACK:
        return Firing(Action.CALL)
    if timer.timer_type is TimerType.FOLLOW_UP:
        return _follow_up(timer)
    if timer.lead_state not in UNANSWERED:
        return Firing(Action.CANCEL, reason="lead replied")
    if timer.superseded:
        return Firing(Action.CANCEL, reason="superseded by a later escalation")
    action = timer.step_action or DEFAULT_STEPS[timer.timer_type]
    if action is Action.MOVE and timer.step_campaign_id != timer.lead_campaign_id:
        return Firing(Action.MOVE, timer.step_campaign_id)
    if action in {Action.MOVE, Action.FOLLOW_UP}:
        return _follow_up(timer)
    return Firing(Action.CLOSE)


def _follow_up(timer: DueTimer) -> Firing:
    if timer.lead_campaign_id is None:
        return Firing(Action.CANCEL, reason="lead is in no campaign")
    return Firing(Action.FOLLOW_UP, timer.lead_campaign_id)


def retry_delay(attempts: int) -> timedelta:
    """How long a timer that has failed `attempts` times waits for its next try."""
    return RETRY_BACKOFF * max(1, attempts)


def timer_send_key(timer_id: UUID) -> str:
    """One text per timer, whoever fires it: the send key names the timer."""
    return f"timer:{timer_id}"
