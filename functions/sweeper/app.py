"""Every minute: put on their queues what was stored but is in none: webhook receipts
the webhook could not enqueue (tether.services.receipts), and sends that are due but
were never enqueued or waited longer than a queue delay holds (tether.services.outbound),
and events committed but never relayed to EventsQueue (tether.services.events), and
inbound media waiting for a copy that no queue holds (tether.services.media);
then clear what is past its tenant's retention window (tether.services.retention),
fold the results' deltas into their counts (tether.services.stats), and try the webhook
deliveries that are due (retries and replays: tether.services.subscriptions) with what
is left of the run's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.config import sweeper_settings
from tether.db.unit_of_work import UnitOfWork
from tether.observability import capture_lambda_handler, logger, metrics
from tether.queues import queue_at
from tether.services.events import redrive_unrelayed_events
from tether.services.media import redrive_uncopied
from tether.services.outbound import redrive_waiting_sends
from tether.services.receipts import redrive_unenqueued_receipts
from tether.services.retention import purge_expired
from tether.services.stats import compact_results
from tether.services.subscriptions import retry_due_deliveries

# what a run keeps back from its webhook deliveries (each takes at most 8 s)
DELIVERY_RESERVE_SECONDS = 20.0


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from tether.db.connection import lambda_connection

    settings = sweeper_settings()
    receipts = redrive_unenqueued_receipts(
        partial(UnitOfWork, lambda_connection("jobs")),
        queue_at(settings.inbound_queue_url),
        grace=timedelta(seconds=settings.sweep_grace_seconds),
        batch_size=settings.sweep_batch_size,
    )
    sends = redrive_waiting_sends(
        UnitOfWork(lambda_connection("jobs")),
        queue_at(settings.outbound_queue_url),
        datetime.now(UTC),
        settings.sweep_batch_size,
    )
    events_queue = settings.events_queue_url
    events = (
        redrive_unrelayed_events(
            UnitOfWork(lambda_connection("jobs")),
            queue_at(events_queue),
            datetime.now(UTC),
            grace=timedelta(seconds=settings.events_grace_seconds),
            batch_size=settings.sweep_batch_size,
        )
        if events_queue
        else 0
    )
    media = (
        redrive_uncopied(
            UnitOfWork(lambda_connection("jobs")),
            queue_at(settings.media_queue_url),
            datetime.now(UTC),
            grace=timedelta(seconds=settings.sweep_grace_seconds),
            batch_size=settings.sweep_batch_size,
        )
        if settings.media_queue_url
        else 0
    )
    purge = purge_expired(
        UnitOfWork(lambda_connection("jobs")),
        datetime.now(UTC),
        settings.retention_batch_size,
        settings.retention_max_batches,
    )
    # the results' deltas folded into their counts (migration 0026): reads stay small
    moved = compact_results(UnitOfWork(lambda_connection("jobs")), settings.results_batch_size)
    deliveries = retry_due_deliveries(
        partial(UnitOfWork, lambda_connection("jobs")),
        datetime.now(UTC),
        budget_seconds=context.get_remaining_time_in_millis() / 1000 - DELIVERY_RESERVE_SECONDS,
    )
    return {
        "receipts": receipts.model_dump(),
        "sends": {"found": sends.found, "enqueued": sends.enqueued},
        "events": {"relayed": events},
        "media": {"enqueued": media},
        "retention": {"purged": purge.purged, "rows_per_second": purge.rows_per_second},
        "results": {"folded": moved},
        "webhook_deliveries": {
            "attempted": deliveries.attempted,
            "delivered": deliveries.delivered,
            "retrying": deliveries.retrying,
            "failed": deliveries.failed,
        },
    }
