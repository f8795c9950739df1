"""Fires due lead timers (EventBridge, every minute): escalations, follow-ups, callbacks;
and hands scheduled launches about to be due (and stalled ones) to LaunchQueue.

The run's clock is the scheduled event's `time` (EventBridge sets it to the minute it
fires), so an event with a later time, e.g. `python -m tether_dev invoke`, plays the job at
that moment; without one it is now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.config import timers_settings
from tether.db.unit_of_work import UnitOfWork
from tether.observability import capture_lambda_handler, logger, metrics
from tether.queues import queue_at
from tether.services.events import event_relay
from tether.services.launches import dispatch_launches
from tether.services.timers import fire_due_timers


def run_time(event: dict[str, Any]) -> datetime:
    scheduled = event.get("time")
    if not scheduled:
        return datetime.now(UTC)
    return datetime.fromisoformat(str(scheduled).replace("Z", "+00:00")).astimezone(UTC)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from tether.db.connection import lambda_connection

    settings = timers_settings()
    now = run_time(event)
    launches = dispatch_launches(
        UnitOfWork(lambda_connection("jobs")), queue_at(settings.launch_queue_url), now
    )
    report = fire_due_timers(
        UnitOfWork(lambda_connection("jobs"), relay=event_relay()),
        queue_at(settings.outbound_queue_url),
        now,
        batch_size=settings.timers_batch_size,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        reserve_seconds=settings.timers_reserve_seconds,
    )
    return {**report.as_dict(), "launches_dispatched": launches}
