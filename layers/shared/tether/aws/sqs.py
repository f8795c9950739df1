"""The SQS adapter of tether.queues.MessageQueue. Imported on first use (a function's
cached getter), so botocore is not loaded at the function's import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tether.domain.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


MAX_DELAY_SECONDS = 900  # SQS's limit on DelaySeconds
MAX_BATCH = 10  # SendMessageBatch's limit on entries
BATCH_CALLS_AT_ONCE = 8


class SqsQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            from tether.aws.clients import aws_client

            self._client = aws_client("sqs")
        return self._client

    def send(
        self,
        body: str,
        *,
        attributes: Mapping[str, str] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_seconds: int = 0,
    ) -> str:
        request: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": body}
        if delay_seconds:
            request["DelaySeconds"] = min(max(delay_seconds, 0), MAX_DELAY_SECONDS)
        if attributes:
            request["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            }
        if group_id is not None:
            request["MessageGroupId"] = group_id
        if deduplication_id is not None:
            request["MessageDeduplicationId"] = deduplication_id
        try:
            response = self.client.send_message(**request)
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailable("SQS", str(error)) from error
        return response["MessageId"]

    def send_batch(self, bodies: Sequence[str]) -> list[int]:
        chunks = [
            (start, bodies[start : start + MAX_BATCH]) for start in range(0, len(bodies), MAX_BATCH)
        ]
        if len(chunks) <= 1:
            return [index for chunk in chunks for index in self._send_chunk(chunk)]
        # each call is a network round trip: a few at once (the client is thread-safe)
        with ThreadPoolExecutor(max_workers=min(BATCH_CALLS_AT_ONCE, len(chunks))) as calls:
            return [index for failed in calls.map(self._send_chunk, chunks) for index in failed]

    def _send_chunk(self, chunk: tuple[int, Sequence[str]]) -> list[int]:
        start, bodies = chunk
        entries: list[Any] = [
            {"Id": str(start + offset), "MessageBody": body} for offset, body in enumerate(bodies)
        ]
        try:
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (BotoCoreError, ClientError):
            return list(range(start, start + len(bodies)))  # the caller leaves these to a re-drive
        return [int(entry["Id"]) for entry in response.get("Failed", [])]
