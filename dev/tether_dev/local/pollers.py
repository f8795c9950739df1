"""Lambda's SQS event source mapping and EventBridge's schedules, locally.

A queue poller receives up to the batch size, invokes the function with the batch,
deletes what succeeded and leaves the rest: a failed message comes back after the
queue's visibility timeout, and moto moves it to the DLQ once its receive count passes
the redrive policy's maxReceiveCount, as SQS does. A failed invocation (an exception,
or past the function's timeout) fails the whole batch; with ReportBatchItemFailures
only the messages the function names go back.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tether_dev.local.events import failed_message_ids, parse_rate, scheduled_event, sqs_event
from tether_dev.local.logs import stack_logger
from tether_dev.local.runtime import Invocation
from tether_dev.local.template import ACCOUNT_ID, REGION, Function, QueueSource, Schedule

# (function, event, request id) → the invocation
Invoke = Callable[[Function, Any, str], Invocation]

SQS_MAX_BATCH = 10  # ReceiveMessage's limit
LONG_POLL_SECONDS = 1  # short enough for a quick stop


class QueuePoller:
    def __init__(
        self,
        function: Function,
        source: QueueSource,
        queue_name: str,
        queue_url: str,
        sqs: Any,
        invoke: Invoke,
        threads: int = 1,
    ) -> None:
        """`threads` poll at once, each invoking the function on its own batch, as
        Lambda's event source mapping scales out on a busy queue."""
        self.function, self.source = function, source
        self.queue_url = queue_url
        self.queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}"
        self._sqs = sqs
        self._invoke = invoke
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"poller-{function.name}-{n}", daemon=True)
            for n in range(max(1, threads))
        ]

    def start(self) -> QueuePoller:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        ends = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, ends - time.monotonic()))

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                stack_logger().exception(
                    "queue poll failed", extra={"function_name": self.function.logical_id}
                )
                self._stopping.wait(1)

    def poll_once(self) -> int:
        """Receive one batch and deliver it; the number of messages delivered."""
        messages = self._receive()
        if not messages:
            return 0
        ids = [m["MessageId"] for m in messages]
        invocation = self._invoke(
            self.function, sqs_event(messages, self.queue_arn), str(uuid.uuid4())
        )
        if invocation.failed:
            failed = set(ids)
        elif self.source.reports_batch_item_failures:
            failed = failed_message_ids(invocation.result, ids)
        else:
            failed = set()
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_MAX_BATCH):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + SQS_MAX_BATCH])
                ],
            )
        stack_logger().info(
            "batch delivered",
            extra={
                "function_name": self.function.logical_id,
                "queue": self.source.queue,
                "messages": len(messages),
                "failed": len(failed),
            },
        )
        return len(messages)

    def _receive(self) -> list[dict[str, Any]]:
        """Up to the batch size; once one message is in, more are gathered until the
        batch is full, the queue is empty, or MaximumBatchingWindowInSeconds passes."""
        messages: list[dict[str, Any]] = []
        window_ends: float | None = None
        while len(messages) < self.source.batch_size and not self._stopping.is_set():
            answer = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_BATCH, self.source.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else LONG_POLL_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = answer.get("Messages", [])
            messages.extend(received)
            if messages and window_ends is None:
                window_ends = time.monotonic() + self.source.maximum_batching_window_seconds
            if not received and (window_ends is None or time.monotonic() >= window_ends):
                break
            if not received:
                self._stopping.wait(0.1)
        return messages


class Scheduler:
    """Every enabled rate schedule of the template, first fired one period after start
    (as a new EventBridge rule is)."""

    def __init__(
        self,
        functions: list[Function],
        invoke: Invoke,
        period_of: Callable[[str], timedelta] = parse_rate,
        clock: Callable[[], datetime] | None = None,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        """`period_of` reads a schedule expression (a test shrinks the periods); `clock`
        and `wait` (seconds, woken early by stop) are the wall clock unless a test drives
        time itself."""
        self._invoke = invoke
        self._clock = clock or (lambda: datetime.now(UTC))
        self._entries: list[tuple[Function, Schedule, timedelta]] = []
        for function in functions:
            for schedule in function.schedules:
                if not schedule.enabled:
                    continue
                try:
                    period = period_of(schedule.expression)
                except ValueError:
                    stack_logger().warning(
                        "schedule not run locally (only rate expressions are)",
                        extra={"function_name": function.logical_id, "schedule": schedule.name},
                    )
                    continue
                self._entries.append((function, schedule, period))
        self._stopping = threading.Event()
        self._wait = wait or self._stopping.wait
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    @property
    def entries(self) -> list[tuple[Function, Schedule, timedelta]]:
        return list(self._entries)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        started = self._clock()
        next_at = {schedule.name: started + period for _, schedule, period in self._entries}
        while self._entries and not self._stopping.is_set():
            now = self._clock()
            for function, schedule, period in self._entries:
                if now < next_at[schedule.name]:
                    continue
                event = scheduled_event(schedule.name, now)
                self._invoke(function, event, str(event["id"]))
                # EventBridge does not catch up on runs missed while one was running
                while next_at[schedule.name] <= self._clock():
                    next_at[schedule.name] += period
                if self._stopping.is_set():
                    return
            wait = min(next_at.values()) - self._clock()
            self._wait(max(0.0, wait.total_seconds()))
