"""EventsQueue → each record's events (one tenant's, by id) handed to every sink in
order: the Tether event bus, the WebSocket connections (the bell), the tenant's
webhook subscriptions, and the sinks other channels add (tether.services.events).
A sink that raises fails the record (partial batch failure): it returns after the
queue's visibility timeout and, after five receives, goes to the DLQ. Sinks dedupe on
the event id, so a retried record delivers nothing twice to a receiver that dedupes."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from tether.config import deliver_events_settings
from tether.db.unit_of_work import UnitOfWork
from tether.observability import capture_lambda_handler, logger, metrics
from tether.services.events import EventSink, EventsMessage, deliver_events
from tether.sqs_batch import PartialItemFailureResponse, SqsRecord, process_sqs_batch


class EventsRecord(SqsRecord):
    """An EventsQueue record: its body names the events."""

    body: Json[EventsMessage]


def unit_of_work(tenant_id: UUID | None) -> UnitOfWork:
    """The jobs role's unit of work (the webhook sink works across tenants), scoped to
    the tenant when it is given one; deliver_events keeps only that tenant's events."""
    from tether.db.connection import lambda_connection

    return UnitOfWork(lambda_connection("jobs"), tenant_id)


@cache
def sinks() -> list[EventSink]:
    """Every sink, in delivery order, made on first use. A new channel adds its sink
    here (its constructor takes what it needs: `tenant_uow`, clients, settings).
    The bell goes before the webhook POSTs: a slow receiver (up to 8 s a round of
    POSTs) must not hold back a browser's bell, and the push never raises, so the
    webhooks still run whatever it meets."""
    from tether.aws.eventbridge import EventBridgeSink
    from tether.services.subscriptions import WebhookSink
    from tether.websocket import websocket_sink

    return [
        EventBridgeSink(deliver_events_settings().event_bus_name),
        websocket_sink(unit_of_work),  # best effort: the polled bell is the fallback
        WebhookSink(unit_of_work),
    ]


def record_handler(record: EventsRecord) -> None:
    logger.append_keys(sqs_message_id=record.messageId, tenant_id=str(record.body.tenant_id))
    deliver_events(unit_of_work, sinks(), record.body, datetime.now(UTC))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_sqs_batch(event, EventsRecord, record_handler)
