"""The timer job: fire due lead timers exactly once, oldest first, within a time budget.

Each batch is one short transaction: the claim locks due timers and their leads with
SKIP LOCKED, `tether.domain.timers.plan_firing` decides each one, and set-based
statements record the whole batch: the sends (stored through the one send path,
`services.outbound.store_sends`, with send key `timer:<id>`, from the lead's bound
number in the campaign they go out in), the lead moves and closes,
call-queue entries, one lead event per fired timer (dedupe key `timer:<id>`), and the
timers fired, cancelled or failed. After the commit the sends are handed to
OutboundQueue (on a thread, while the next batch is worked, and marked enqueued in the
next transaction); one the queue did not take stays marked not enqueued, and the sweeper
re-drives it. A batch that fails as a whole is retried one timer at a time, so one bad
timer costs itself an attempt and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.timers import ClaimedTimer, FailedTimer, FiredTimer, TimerEvent
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.lead_state import LeadState, can_transition
from tether.domain.outbox import EventType, call_queued_data, state_changed_data
from tether.domain.timers import (
    DEFAULT_STEPS,
    ESCALATIONS,
    FOLLOW_UP_TEXT,
    STEP_ACTIONS,
    Action,
    EscalationStep,
    TimerType,
    plan_firing,
    retry_delay,
    timer_send_key,
)
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.outbound import SendRefused, SendRequest, send_to_queue, store_sends

DEFAULT_BATCH_SIZE = 500


@dataclass(slots=True)
class TimerRunReport:
    fired: int = 0
    cancelled: int = 0
    failed: int = 0
    gave_up: int = 0
    sends: int = 0
    enqueued: int = 0
    batches: int = 0
    remaining: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "fired": self.fired,
            "cancelled": self.cancelled,
            "failed": self.failed,
            "gave_up": self.gave_up,
            "sends": self.sends,
            "enqueued": self.enqueued,
            "batches": self.batches,
            "remaining": self.remaining,
        }


@dataclass(slots=True)
class _Batch:
    """What one batch records, gathered before it is written."""

    now: datetime
    fired: list[FiredTimer] = field(default_factory=list)
    cancelled: list[tuple[UUID, str]] = field(default_factory=list)
    failed: list[tuple[ClaimedTimer, str]] = field(default_factory=list)
    events: list[TimerEvent] = field(default_factory=list)
    moves: list[tuple[UUID, UUID]] = field(default_factory=list)
    closes: list[ClaimedTimer] = field(default_factory=list)
    calls: list[ClaimedTimer] = field(default_factory=list)
    sends: list[tuple[ClaimedTimer, Action, UUID]] = field(default_factory=list)  # to campaign
    messages: list[tuple[UUID, UUID]] = field(default_factory=list)  # (tenant, message)
    call_priorities: dict[UUID, int] = field(default_factory=dict)  # of the calls' tenants


def fire_due_timers(
    uow: UnitOfWork,
    queue: MessageQueue | None,
    now: datetime,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    time_left: Callable[[], float] | None = None,
    reserve_seconds: float = 5.0,
) -> TimerRunReport:
    """Work through the timers due at `now` (jobs role, every tenant) in batches, oldest
    first, until none is left or `time_left()` falls below `reserve_seconds`; report
    what happened and how many remain due."""
    report = TimerRunReport()
    handover = _Handover(queue) if queue is not None else None
    with uow:
        _run(uow, handover, report, now, batch_size, time_left, reserve_seconds)
    for name, value in report.as_dict().items():
        if name != "batches":
            metrics.add_metric(
                name=f"Timers{name.title().replace('_', '')}", unit="Count", value=value
            )
    logger.info("timer run done", extra=report.as_dict())
    if report.remaining:
        logger.warning("timers left for the next run", extra={"remaining": report.remaining})
    return report


def _run(
    uow: UnitOfWork,
    handover: _Handover | None,
    report: TimerRunReport,
    now: datetime,
    batch_size: int,
    time_left: Callable[[], float] | None,
    reserve_seconds: float,
) -> None:
    try:
        while time_left is None or time_left() > reserve_seconds:
            claimed = uow.timers.claim_due(now, batch_size)
            if not claimed:
                uow.rollback()
                break
            try:
                batch = _fire(uow, claimed, now)
                marked = handover.mark(uow, now) if handover else 0
                uow.commit()
            except Exception:
                logger.exception("timer batch failed; firing its timers one at a time")
                uow.rollback()
                marked = _mark_alone(uow, handover, now)
                batch = _fire_one_by_one(uow, [c.timer.id for c in claimed], now)
            if handover:
                handover.done()
                handover.hand_over(batch.messages)
            report.enqueued += marked
            report.batches += 1
            _count(report, batch)
        report.enqueued += _mark_alone(uow, handover, now)
    finally:
        if handover:
            handover.close()
    report.remaining = uow.timers.count_due(now)
    uow.rollback()


def schedule_timer(
    uow: UnitOfWork, lead_id: UUID, timer_type: TimerType, trigger_at: datetime
) -> dict[str, Any]:
    """Set the lead's timer of this type to `trigger_at` (a pending one moves): the
    timer as stored."""
    with uow:
        lead = uow.leads.get(lead_id)
        if lead is None:
            raise NotFound("lead", lead_id)
        timer_id = uow.timers.schedule(lead.tenant_id, lead_id, timer_type.value, trigger_at)
        uow.commit()
        return next(row for row in uow.timers.history(lead_id) if row["id"] == timer_id)


def cancel_lead_timer(uow: UnitOfWork, lead_id: UUID, timer_type: TimerType, now: datetime) -> int:
    """Cancel the lead's pending timer of this type (by hand): how many, 0 or 1."""
    with uow:
        if uow.leads.get(lead_id) is None:
            raise NotFound("lead", lead_id)
        cancelled = uow.timers.cancel(lead_id, now, "cancelled through the API", timer_type.value)
        uow.commit()
    return cancelled


def lead_timers(uow: UnitOfWork, lead_id: UUID) -> list[dict[str, Any]]:
    """The lead's timers, pending and past (NotFound for a lead the tenant lacks)."""
    with uow:
        if uow.leads.get(lead_id) is None:
            raise NotFound("lead", lead_id)
        return uow.timers.history(lead_id)


def escalation_map(uow: UnitOfWork) -> list[EscalationStep]:
    """What each escalation timer does for the session's tenant, defaults included."""
    with uow:
        return _escalation_map(uow)


def _escalation_map(uow: UnitOfWork) -> list[EscalationStep]:
    configured = uow.timers.escalation_steps()
    steps = []
    for timer_type in ESCALATIONS:
        step = configured.get(timer_type.value)
        if step is None:
            steps.append(EscalationStep(timer_type, DEFAULT_STEPS[timer_type], None, False))
        else:
            action, campaign_id = step
            steps.append(EscalationStep(timer_type, Action(action), campaign_id, True))
    return steps


def set_escalation_step(
    uow: UnitOfWork,
    tenant_id: UUID,
    timer_type: TimerType,
    action: Action,
    campaign_id: UUID | None,
) -> list[EscalationStep]:
    """Set what `timer_type` does for the tenant; a move names a campaign of its own."""
    if timer_type not in ESCALATIONS or action not in STEP_ACTIONS:
        raise InvalidInput(f"{timer_type.value} cannot {action.value}")
    if (action is Action.MOVE) != (campaign_id is not None):
        raise InvalidInput("campaign_id is required by move and only by move")
    with uow:
        if campaign_id is not None and uow.campaigns.get(campaign_id) is None:
            raise NotFound("campaign", campaign_id)
        uow.timers.set_escalation_step(tenant_id, timer_type.value, action.value, campaign_id)
        uow.commit()
        logger.info(
            "escalation step set",
            extra={
                "tenant_id": str(tenant_id),
                "timer_type": timer_type.value,
                "action": action.value,
            },
        )
        return _escalation_map(uow)


def remove_escalation_step(uow: UnitOfWork, timer_type: TimerType) -> list[EscalationStep]:
    """Put `timer_type` back to its default."""
    if timer_type not in ESCALATIONS:
        raise InvalidInput(f"{timer_type.value} has no escalation step")
    with uow:
        uow.timers.remove_escalation_step(timer_type.value)
        uow.commit()
        return _escalation_map(uow)


def _fire_one_by_one(uow: UnitOfWork, timer_ids: Sequence[UUID], now: datetime) -> _Batch:
    """The fallback of a failed batch: each timer in a transaction of its own; one that
    still fails is counted as a failed attempt."""
    merged = _Batch(now)
    for timer_id in timer_ids:
        claimed = uow.timers.claim_due(now, 1, [timer_id])
        if not claimed:  # fired or taken by another run meanwhile
            uow.rollback()
            continue
        try:
            batch = _fire(uow, claimed, now)
            uow.commit()
        except Exception as error:
            uow.rollback()
            logger.exception("timer failed", extra={"timer_id": str(timer_id)})
            claimed = uow.timers.claim_due(now, 1, [timer_id])
            batch = _Batch(now, failed=[(c, _describe(error)) for c in claimed])
            _record_failures(uow, batch)
            uow.commit()
        for name in ("fired", "cancelled", "failed", "messages"):
            getattr(merged, name).extend(getattr(batch, name))
    return merged


def _fire(uow: UnitOfWork, claimed: Sequence[ClaimedTimer], now: datetime) -> _Batch:
    """Decide and record one claimed batch (not committed)."""
    batch = _Batch(now)
    leads_seen: set[UUID] = set()
    for item in claimed:
        timer = item.timer
        if timer.lead_id in leads_seen:
            continue  # one timer per lead per batch; the next batch takes this one
        leads_seen.add(timer.lead_id)
        firing = plan_firing(timer)
        if firing.action is Action.CANCEL:
            batch.cancelled.append((timer.id, firing.reason or "cancelled"))
        elif firing.action is Action.CLOSE:
            batch.closes.append(item)
        elif firing.action is Action.CALL:
            batch.calls.append(item)
        else:
            assert firing.campaign_id is not None  # MOVE and FOLLOW_UP name where
            batch.sends.append((item, firing.action, firing.campaign_id))
    if batch.calls:
        batch.call_priorities = uow.timers.call_priorities({i.timer.tenant_id for i in batch.calls})
    _prepare_sends(uow, batch)
    _record(uow, batch)
    return batch


def _prepare_sends(uow: UnitOfWork, batch: _Batch) -> None:
    """Store the batch's texts through the send path (`store_sends`: each from its lead's
    bound number in the campaign it goes out in, bound now when the lead is new to that
    campaign); a text the send path refuses fails its timer."""
    if not batch.sends:
        return
    follow_ups = uow.campaigns.get_many(
        {campaign_id for _, action, campaign_id in batch.sends if action is Action.FOLLOW_UP}
    )
    requests = []
    for item, action, campaign_id in batch.sends:
        body: str | None = None  # a move sends the campaign's template
        if action is Action.FOLLOW_UP and campaign_id in follow_ups:
            body = follow_ups[campaign_id].follow_up_text(FOLLOW_UP_TEXT)  # merge fields too
        requests.append(
            SendRequest(
                tenant_id=item.timer.tenant_id,
                campaign_id=campaign_id,
                lead_id=item.timer.lead_id,
                template=item.timer.timer_type.value.lower(),
                body=body,
                render=body is not None,
                send_key=timer_send_key(item.timer.id),
            )
        )
    results = store_sends(uow, requests, batch.now)
    for (item, action, campaign_id), result in zip(batch.sends, results, strict=True):
        if isinstance(result, SendRefused):
            batch.failed.append((item, str(result.error)))
            continue
        if not result.duplicate:
            batch.messages.append((item.timer.tenant_id, result.message_id))
        timer = item.timer
        payload: dict[str, str | None] = {
            "timer_id": str(timer.id),
            "timer_type": timer.timer_type.value,
            "message_id": str(result.message_id),
            "campaign_id": str(campaign_id),
            "from_number": result.from_number,
        }
        if action is Action.MOVE:
            batch.moves.append((timer.lead_id, campaign_id))
            payload["previous_campaign_id"] = (
                str(timer.lead_campaign_id) if timer.lead_campaign_id else None
            )
        batch.events.append(
            TimerEvent(
                timer.tenant_id,
                timer.lead_id,
                "ESCALATED" if action is Action.MOVE else "FOLLOW_UP_SENT",
                timer_send_key(timer.id),
                payload,
            )
        )
        batch.fired.append(FiredTimer(timer.id, result.message_id))


def _record(uow: UnitOfWork, batch: _Batch) -> None:
    now = batch.now
    closed: list[ClaimedTimer] = []
    for item in batch.closes:
        timer = item.timer
        if not can_transition(timer.lead_state, LeadState.CLOSED):
            batch.cancelled.append((timer.id, f"lead is {timer.lead_state.value}"))
            continue
        closed.append(item)
        batch.events.append(
            TimerEvent(
                timer.tenant_id,
                timer.lead_id,
                "TIMER_CLOSED",
                timer_send_key(timer.id),
                {"timer_id": str(timer.id), "timer_type": timer.timer_type.value},
                timer.lead_state,
                LeadState.CLOSED,
            )
        )
        batch.fired.append(FiredTimer(timer.id, None))
    if batch.calls:
        queued = uow.timers.queue_calls(
            [
                (
                    item.timer.tenant_id,
                    item.timer.lead_id,
                    batch.call_priorities[item.timer.tenant_id],
                    now,
                )
                for item in batch.calls
            ]
        )
        for item in batch.calls:
            timer = item.timer
            batch.events.append(
                TimerEvent(
                    timer.tenant_id,
                    timer.lead_id,
                    "CALLBACK_DUE",
                    timer_send_key(timer.id),
                    {"timer_id": str(timer.id), "timer_type": timer.timer_type.value},
                )
            )
            batch.fired.append(FiredTimer(timer.id, None))
        uow.outbox.record_many(
            [
                (
                    tenant_id,
                    EventType.CALL_QUEUED,
                    call_queued_data(lead_id, call_id, priority, "callback"),
                    lead_id,
                )
                for tenant_id, lead_id, call_id, priority in queued
            ],
            now,
        )
    uow.timers.move_leads(batch.moves)
    uow.timers.close_leads([item.timer.lead_id for item in closed], now)
    uow.outbox.record_many(
        [
            (
                item.timer.tenant_id,
                EventType.LEAD_STATE_CHANGED,
                state_changed_data(
                    item.timer.lead_id,
                    item.timer.lead_state.value,
                    LeadState.CLOSED.value,
                    "TIMER_CLOSED",
                ),
                item.timer.lead_id,
            )
            for item in closed
        ],
        now,
    )
    uow.timers.append_events(batch.events)
    uow.timers.mark_fired(batch.fired, now)
    uow.timers.cancel_others(
        [item.timer.lead_id for item in closed],
        [item.timer.id for item in closed],
        now,
        "lead closed",
    )
    uow.timers.mark_cancelled(batch.cancelled, now)
    _record_failures(uow, batch)
    for fired in batch.fired:
        logger.debug(
            "timer fired",
            extra={"timer_id": str(fired.timer_id), "message_id": str(fired.message_id)},
        )


def _record_failures(uow: UnitOfWork, batch: _Batch) -> None:
    failures = [
        FailedTimer(
            item.timer.id,
            error,
            batch.now + retry_delay(item.timer.attempts + 1),
            gave_up=item.timer.attempts + 1 >= item.timer.max_attempts,
        )
        for item, error in batch.failed
    ]
    uow.timers.mark_failed(failures, batch.now)
    for (item, error), failure in zip(batch.failed, failures, strict=True):
        timer = item.timer
        extra = {
            "tenant_id": str(timer.tenant_id),
            "lead_id": str(timer.lead_id),
            "timer_id": str(timer.id),
            "timer_type": timer.timer_type.value,
            "attempt": timer.attempts + 1,
            "error": error,
        }
        if failure.gave_up:
            uow.audit.record(
                "timer_failed",
                tenant_id=timer.tenant_id,
                subject_type="lead_timer",
                subject_id=str(timer.id),
                detail={**extra, "max_attempts": timer.max_attempts},
            )
            logger.error("timer gave up", extra=extra)
        else:
            logger.warning("timer failed; retrying on a later run", extra=extra)


class _Handover:
    """Puts a committed batch's texts on OutboundQueue on a thread of its own while the
    next batch is worked, and marks the ones the queue took as enqueued in the next
    transaction (or a last one of their own). A text whose mark is lost (the process
    died in between) is re-driven by the sweeper; the outbound claim makes a second
    queue message for it harmless."""

    def __init__(self, queue: MessageQueue) -> None:
        self._queue = queue
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="timers-enqueue")
        self._pending: Future[list[UUID]] | None = None

    def hand_over(self, messages: Sequence[tuple[UUID, UUID]]) -> None:
        if messages:
            self._pending = self._thread.submit(send_to_queue, self._queue, list(messages))

    def mark(self, uow: UnitOfWork, now: datetime) -> int:
        """Record in the open transaction what the queue took of the last hand-over;
        `done` forgets it once that transaction has committed."""
        if self._pending is None:
            return 0
        taken = self._pending.result()
        uow.messages.mark_enqueued_many(taken, now)
        return len(taken)

    def done(self) -> None:
        self._pending = None

    def close(self) -> None:
        self._thread.shutdown(wait=True)


def _mark_alone(uow: UnitOfWork, handover: _Handover | None, now: datetime) -> int:
    """The last hand-over's marks in a transaction of their own."""
    if handover is None:
        return 0
    marked = handover.mark(uow, now)
    uow.commit()
    handover.done()
    return marked


def _count(report: TimerRunReport, batch: _Batch) -> None:
    report.fired += len(batch.fired)
    report.cancelled += len(batch.cancelled)
    report.failed += len(batch.failed)
    report.gave_up += sum(
        1 for item, _ in batch.failed if item.timer.attempts + 1 >= item.timer.max_attempts
    )
    report.sends += len(batch.messages)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]
