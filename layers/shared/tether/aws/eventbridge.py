"""The EventBridge sink (issue 16): every event on the Tether event bus, its detail-type
the event type and its detail the envelope every channel carries. Imported on first use
(a function's cached getter), so botocore is not loaded at the function's import."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tether.domain.errors import DependencyUnavailable
from tether.domain.outbox import OutboxEvent
from tether.observability import logger

SOURCE = "tether"
MAX_ENTRIES = 10  # PutEvents' limit on entries per call


class EventBridgeSink:
    """PutEvents onto the bus. An entry the bus refuses (a partial FailedEntryCount)
    raises DependencyUnavailable, so the queue message comes back and the batch is put
    again: a rule's target may see an event twice and dedupes on the detail's `id`."""

    def __init__(self, bus_name: str, client: Any | None = None) -> None:
        self.bus_name = bus_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from tether.aws.clients import aws_client

            self._client = aws_client("events")
        return self._client

    def deliver(self, events: Sequence[OutboxEvent], now: datetime) -> None:
        failed = 0
        for start in range(0, len(events), MAX_ENTRIES):
            entries = [self._entry(event) for event in events[start : start + MAX_ENTRIES]]
            try:
                response = self.client.put_events(Entries=entries)
            except (BotoCoreError, ClientError) as error:
                raise DependencyUnavailable("EventBridge", str(error)) from error
            failed += response.get("FailedEntryCount", 0)
        if failed:
            raise DependencyUnavailable("EventBridge", f"{failed} of {len(events)} events refused")
        logger.info("events put on the bus", extra={"bus": self.bus_name, "events": len(events)})

    def _entry(self, event: OutboxEvent) -> dict[str, Any]:
        return {
            "EventBusName": self.bus_name,
            "Source": SOURCE,
            "DetailType": event.type.value,
            "Detail": json.dumps(event.envelope()),
            "Time": event.occurred_at,
        }
