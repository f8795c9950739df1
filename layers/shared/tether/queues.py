"""The one door to message queues. The SQS adapter is tether.aws.sqs.SqsQueue; tests
and the local stack use the same adapter against moto."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Protocol


class MessageQueue(Protocol):
    def send(
        self,
        body: str,
        *,
        attributes: Mapping[str, str] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_seconds: int = 0,
    ) -> str:
        """Put one message on the queue and return its id. `group_id` and
        `deduplication_id` are for FIFO queues; `delay_seconds` (at most 900) keeps it
        out of sight that long. Raises DependencyUnavailable."""
        ...

    def send_batch(self, bodies: Sequence[str]) -> list[int]:
        """Put many messages on the queue in as few calls as it allows; return the
        positions in `bodies` it did not accept (the caller leaves those to a re-drive)."""
        ...


@cache
def queue_at(url: str) -> MessageQueue:
    """The queue at `url`, made on first use and kept for the container: every handler
    gets its queues here. The SQS adapter loads botocore, so it is imported now, not
    when a handler module is."""
    from tether.aws.sqs import SqsQueue

    return SqsQueue(url)
