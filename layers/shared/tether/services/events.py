"""Events out of the outbox (issue 16): relayed to EventsQueue after their commit, and
delivered from it to every sink (the EventBridge bus, webhook subscriptions, WebSocket
connections).

Relay: a unit of work given a QueueRelay hands each commit's events to EventsQueue as
soon as the commit is done, and marks them relayed. A queue that fails then never fails
the use case that committed: the sweeper re-drives events left unrelayed for longer than
a short grace (`redrive_unrelayed_events`), as it does receipts and sends. Delivery is at
least once, so a sink dedupes on the event's id.

Delivery: `deliver_events` loads the events a queue message names, in the tenant's own
scope (row-level security), and hands them to each sink in order. A sink raises to have
the message retried (every sink is idempotent per event id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import DependencyUnavailable
from tether.domain.outbox import OutboxEvent
from tether.observability import logger, metrics
from tether.queues import MessageQueue, queue_at

# ids per EventsQueue message: a few hundred bytes each, far under SQS's 256 KiB
IDS_PER_MESSAGE = 100


class EventSink(Protocol):
    def deliver(self, events: Sequence[OutboxEvent], now: datetime) -> None:
        """Deliver the events (all of one tenant, oldest first). Raise to have the whole
        batch retried (so be idempotent per event id); a sink that retries failures
        itself (webhook deliveries) must not raise for a receiver's failure."""
        ...


class EventsMessage(BaseModel):
    """What EventsQueue carries: events of one tenant, by id (the rows hold the data)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: UUID
    event_ids: list[UUID] = Field(min_length=1, max_length=IDS_PER_MESSAGE)


def events_messages(events: Iterable[tuple[UUID, UUID]]) -> list[EventsMessage]:
    """(tenant, event id) pairs as EventsQueue messages: per tenant, in order."""
    by_tenant: dict[UUID, list[UUID]] = defaultdict(list)
    for tenant_id, event_id in events:
        by_tenant[tenant_id].append(event_id)
    return [
        EventsMessage(tenant_id=tenant_id, event_ids=ids[start : start + IDS_PER_MESSAGE])
        for tenant_id, ids in by_tenant.items()
        for start in range(0, len(ids), IDS_PER_MESSAGE)
    ]


def _hand_over(queue: MessageQueue, pairs: Sequence[tuple[UUID, UUID]]) -> list[UUID]:
    """Send the events' messages; the ids the queue took."""
    messages = events_messages(pairs)
    refused = set(queue.send_batch([m.model_dump_json() for m in messages]))
    return [
        event_id
        for index, message in enumerate(messages)
        if index not in refused
        for event_id in message.event_ids
    ]


class QueueRelay:
    """The EventRelay of every function that records events: EventsQueue, right after
    the commit."""

    def __init__(self, queue: MessageQueue, now: Callable[[], datetime]) -> None:
        self._queue = queue
        self._now = now

    def relay(self, uow: UnitOfWork, events: Sequence[OutboxEvent]) -> None:
        try:
            relayed = _hand_over(self._queue, [(e.tenant_id, e.id) for e in events])
        except Exception as error:  # the use case has committed: nothing may fail it now
            logger.warning(
                "events not relayed; the sweeper re-drives them",
                extra={"events": len(events), "error": str(error)},
            )
            return
        if not relayed:
            return
        try:
            uow.outbox.mark_relayed(relayed, self._now())
            uow.commit()
        except Exception:
            # they are on the queue already: the worst case is the sweeper relaying
            # them again, and every sink dedupes on the event's id
            logger.exception("relayed events not marked", extra={"events": len(relayed)})
            with suppress(Exception):  # a broken connection: the unit of work's end drops it
                uow.rollback()


def utc_now() -> datetime:
    return datetime.now(UTC)


@cache
def event_relay() -> QueueRelay | None:
    """The container's relay to EventsQueue, made on first use (None without
    EVENTS_QUEUE_URL: the sweeper then relays)."""
    from tether.config import events_queue_settings

    url = events_queue_settings().events_queue_url
    return QueueRelay(queue_at(url), utc_now) if url else None


def redrive_unrelayed_events(
    uow: UnitOfWork,
    queue: MessageQueue,
    now: datetime,
    *,
    grace: timedelta,
    batch_size: int = 500,
    max_batches: int = 10,
) -> int:
    """Relay every event committed more than `grace` ago and never relayed (the queue
    failed after its commit, or the function died between the two), and mark it. Each
    batch is locked (SKIP LOCKED) and marked in the transaction that sent it. Returns
    how many were relayed."""
    relayed_total = 0
    with uow:
        for _ in range(max_batches):
            batch = uow.outbox.unrelayed(now - grace, batch_size)
            try:
                relayed = _hand_over(queue, batch) if batch else []
            except DependencyUnavailable as error:
                logger.warning(
                    "event re-drive stopped: queue unavailable", extra={"error": str(error)}
                )
                relayed = []
            uow.outbox.mark_relayed(relayed, now)
            uow.commit()
            relayed_total += len(relayed)
            if len(relayed) < len(batch) or len(batch) < batch_size:
                break
    if relayed_total:
        metrics.add_metric(name="EventsRedriven", unit="Count", value=relayed_total)
        logger.warning("events re-driven", extra={"events": relayed_total})
    return relayed_total


def deliver_events(
    unit_of_work: Callable[[UUID], UnitOfWork],
    sinks: Sequence[EventSink],
    message: EventsMessage,
    now: datetime,
) -> int:
    """Load the message's events in their tenant's scope and hand them to every sink,
    in order. An id no longer found (purged by retention) is skipped. Returns how many
    events were delivered; a sink's exception propagates (the message is retried)."""
    with unit_of_work(message.tenant_id) as uow:
        # the tenant's own, whatever role the unit of work has
        events = [e for e in uow.outbox.get(message.event_ids) if e.tenant_id == message.tenant_id]
    if len(events) < len(message.event_ids):
        logger.warning(
            "events not found",
            extra={
                "tenant_id": str(message.tenant_id),
                "missing": len(message.event_ids) - len(events),
            },
        )
    if events:
        for sink in sinks:
            sink.deliver(events, now)
    logger.info(
        "events delivered",
        extra={"tenant_id": str(message.tenant_id), "events": len(events), "sinks": len(sinks)},
    )
    return len(events)
