"""WebSocket push (issue 16): the WebSocket API's routes (connect, disconnect,
subscribe, ping) and `WebSocketSink`, which rings the bell of every connection of a
reply's tenant subscribed to the reply's workspace stage.

A push is best effort; the polled bell (GET /v1/notifications/unread-counts) stays the
fallback, and its numbers are the ones pushed. So the sink never raises: a socket that
is gone (410) is deleted; a frame @connections refuses is logged and counted
(PushFailed) and the others go on; when @connections does not answer at all, the
batch's remaining bells are skipped (each would wait out the same timeouts). Raising would make SQS deliver the whole batch again, to
the webhooks and EventBridge too, for one dead socket. A batch delivered again (another
sink raised) rings the bell again: the frame carries the event id and the current
counts, so a client can tell.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import DependencyUnavailable, NotFound, TetherError
from tether.domain.outbox import OutboxEvent
from tether.domain.push import (
    Connection,
    ConnectionGone,
    Frame,
    PushRefused,
    bell_frame,
    pong_frame,
    reply_stage,
    subscribed_frame,
    subscription_stages,
)
from tether.observability import logger, metrics
from tether.services.inbox import unread_counts

if TYPE_CHECKING:
    from tether.aws.connections import ConnectionsApi, ConnectionTable

# A unit of work of a tenant (the contract of issue 16's sinks)
UnitOfWorkFor = Callable[[UUID | None], UnitOfWork]


def connect(table: ConnectionTable, connection_id: str, tenant_id: UUID, now: datetime) -> None:
    """A connection the authorizer let in, stored with its tenant and its expiry."""
    table.add(Connection(connection_id, tenant_id, now))
    logger.info(
        "websocket connected", extra={"connection_id": connection_id, "tenant_id": str(tenant_id)}
    )


def disconnect(table: ConnectionTable, connection_id: str) -> None:
    table.remove(connection_id)
    logger.info("websocket disconnected", extra={"connection_id": connection_id})


def subscribe(
    table: ConnectionTable, uow_for: UnitOfWorkFor, connection_id: str, message: Mapping[str, Any]
) -> Frame:
    """Listen to the stages the message names (instead of any before); the answer holds
    the bell's current counts. InvalidInput for unknown stages, NotFound for a
    connection no longer stored."""
    stages = subscription_stages(message)
    connection = table.subscribe(connection_id, stages)
    if connection is None:
        raise NotFound("connection", connection_id)
    counts = unread_counts(uow_for(connection.tenant_id), connection.tenant_id)
    logger.info(
        "websocket subscribed",
        extra={
            "connection_id": connection_id,
            "tenant_id": str(connection.tenant_id),
            "stages": list(stages),
        },
    )
    return subscribed_frame(connection.stages, counts)


def ping() -> Frame:
    return pong_frame()


class WebSocketSink:
    """The EventSink of deliver_events that pushes bells (reply.received) to WebSocket
    connections. Other event types are not pushed."""

    def __init__(
        self, connections: ConnectionTable, api: ConnectionsApi, uow_for: UnitOfWorkFor
    ) -> None:
        self._connections = connections
        self._api = api
        self._uow_for = uow_for

    def deliver(self, events: Sequence[OutboxEvent], now: datetime) -> None:
        replies: dict[UUID, list[tuple[str, OutboxEvent]]] = defaultdict(list)
        for event in events:
            stage = reply_stage(event)
            if stage is not None:
                replies[event.tenant_id].append((stage, event))
        for tenant_id, rung in replies.items():
            try:
                self._ring(tenant_id, rung, now)
            except DependencyUnavailable as error:
                # @connections does not answer: every other push would wait its
                # timeouts too, so the batch's remaining bells are left to the poll
                metrics.add_metric(name="PushFailed", unit="Count", value=1)
                logger.warning("bells not pushed", extra={"error": str(error)})
                return

    def _ring(self, tenant_id: UUID, rung: list[tuple[str, OutboxEvent]], now: datetime) -> None:
        try:
            connections = self._connections.of_tenant(tenant_id, now)
            if not any(c.listens_to(stage) for c in connections for stage, _ in rung):
                return  # nobody listens: not even the counts are read
            # read after the replies committed: the numbers the polled bell gives now
            counts = unread_counts(self._uow_for(tenant_id), tenant_id)
        except TetherError as error:
            metrics.add_metric(name="PushFailed", unit="Count", value=1)
            logger.warning(
                "bell not pushed", extra={"tenant_id": str(tenant_id), "error": str(error)}
            )
            return
        gone: set[str] = set()
        for stage, event in rung:
            frame = json.dumps(bell_frame(stage, counts, event))
            for connection in connections:
                if not connection.listens_to(stage) or connection.connection_id in gone:
                    continue
                if not self._post(connection, frame, event):
                    gone.add(connection.connection_id)

    def _post(self, connection: Connection, frame: str, event: OutboxEvent) -> bool:
        """Push one frame; False when the connection turned out to be gone (and is
        deleted)."""
        keys = {
            "tenant_id": str(connection.tenant_id),
            "connection_id": connection.connection_id,
            "event_id": str(event.id),
        }
        try:
            self._api.post(connection.connection_id, frame)
        except ConnectionGone:
            metrics.add_metric(name="PushGone", unit="Count", value=1)
            logger.info("websocket gone; connection deleted", extra=keys)
            try:
                self._connections.remove(connection.connection_id)
            except TetherError as error:  # its TTL deletes it later
                logger.warning("gone connection not deleted", extra={**keys, "error": str(error)})
            return False
        except PushRefused as error:
            metrics.add_metric(name="PushFailed", unit="Count", value=1)
            logger.warning("bell not pushed", extra={**keys, "error": str(error)})
            return True
        metrics.add_metric(name="PushSent", unit="Count", value=1)
        return True
