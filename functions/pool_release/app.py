"""Releases expired number leases (EventBridge, every 5 minutes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.db.connection import lambda_connection
from tether.db.unit_of_work import UnitOfWork
from tether.observability import capture_lambda_handler, logger, metrics
from tether.services.events import event_relay
from tether.services.leases import release_expired_leases

# What the last batch may still need after the budget check (one batch and its commit).
SAFETY_MARGIN_SECONDS = 5.0


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    budget = context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
    report = release_expired_leases(
        UnitOfWork(lambda_connection("jobs"), relay=event_relay()),
        datetime.now(UTC),
        time_budget_seconds=budget,
    )
    return {"released": report.released, "batches": report.batches, "finished": report.finished}
