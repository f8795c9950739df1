"""moto's server in a thread of this process, with the template's tables and queues.
Dead-letter queues are made before the queues that name them, so their redrive policy
holds; moto then moves a message to the DLQ on its maxReceiveCount-th receive + 1."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from tether_dev.local.template import ACCOUNT_ID, REGION, Stack


@cache
def moto_queues_in_constant_time() -> None:
    """moto's SendMessage reads one setting (ContentBasedDeduplication), and its
    ReceiveMessage one per message received (MessageRetentionPeriod), through
    `Queue.attributes`, which counts every message on the queue to build the whole
    attribute map (three times over, through GetQueueAttributes). So each send and each
    received message cost O(messages queued): 100,000 sends would take hours, and a
    busy queue read by several pollers kept moto's process at full CPU (the soak). SQS
    has no such cost. While a send or a receive is being served, `attributes` answers
    those two settings only; everything else about moto (GetQueueAttributes included)
    is unchanged. Applied once per process."""
    from moto.sqs import models

    serving = threading.local()
    full = models.Queue.attributes

    def attributes(queue: Any) -> dict[str, Any]:
        if getattr(serving, "on", False):
            deduplicates = getattr(queue, "content_based_deduplication", False)
            return {
                "ContentBasedDeduplication": str(deduplicates).lower(),
                "MessageRetentionPeriod": queue.message_retention_period,
            }
        return full.fget(queue)  # type: ignore[attr-defined,no-any-return]

    def served(operation: Any) -> Any:
        def serve(backend: Any, *args: Any, **kwargs: Any) -> Any:
            serving.on = True
            try:
                return operation(backend, *args, **kwargs)
            finally:
                serving.on = False

        return serve

    setattr(models.Queue, "attributes", property(attributes))  # noqa: B010
    for name in ("send_message", "receive_message"):
        setattr(models.SQSBackend, name, served(getattr(models.SQSBackend, name)))


@dataclass
class MotoServer:
    host: str
    port: int
    _server: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        from moto.server import ThreadedMotoServer

        moto_queues_in_constant_time()

        # ThreadedMotoServer waits forever for a server that failed to bind: find out first
        self.port = claim_port(self.host, self.port)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def serve_moto(host: str, port: int) -> int:
    """`python -m tether_dev moto`: moto's server in a process of its own, until SIGINT
    or SIGTERM, so that what is queued outlives the functions' process (the soak kills
    it). The stack given --aws-endpoint-url provisions its tables and queues there."""
    import signal

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = MotoServer(host, port).start()
    print(f"moto serving at {server.url}", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


def claim_port(host: str, port: int) -> int:
    """`port` if it is free on `host`, any free port for 0; OSError when taken. (Another
    program may still take it before we bind again: unlikely, and then binding fails.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the servers bind: a port whose last connections are in TIME_WAIT is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(f"{host}:{port} is in use ({error.strerror})") from error
        return int(probe.getsockname()[1])


def queue_url(endpoint: str, name: str) -> str:
    """moto's URL of a queue (the same shape as SQS's own, on moto's host)."""
    return f"{endpoint}/{ACCOUNT_ID}/{name}"


def client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's, not a secret
    )


def provision(stack: Stack, endpoint: str) -> dict[str, str]:
    """Create the template's tables, queues, event buses and buckets (idempotent: a second run
    finds them). Returns each queue's URL by logical id."""
    dynamodb = client("dynamodb", endpoint)
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for table in stack.tables:
        if table.name in existing:
            continue
        indexes = (
            {"GlobalSecondaryIndexes": table.global_secondary_indexes}
            if table.global_secondary_indexes
            else {}
        )
        dynamodb.create_table(
            TableName=table.name,
            KeySchema=table.key_schema,
            AttributeDefinitions=table.attribute_definitions,
            BillingMode="PAY_PER_REQUEST",
            **indexes,
        )
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
    sqs = client("sqs", endpoint)
    urls: dict[str, str] = {}
    dead_letter_first = sorted(stack.queues, key=lambda q: q.dead_letter_target is not None)
    for queue in dead_letter_first:
        urls[queue.logical_id] = sqs.create_queue(
            QueueName=queue.name, Attributes=queue.attributes
        )["QueueUrl"]
    provision_buses(stack, endpoint)
    s3 = client("s3", endpoint)
    existing_buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in stack.buckets:
        if bucket.name not in existing_buckets:
            s3.create_bucket(Bucket=bucket.name)
    return urls


def provision_buses(stack: Stack, endpoint: str) -> None:
    """The template's event buses and their rules (with targets) in moto, which
    delivers a rule's matching events to its SQS targets as EventBridge does."""
    import json

    events = client("events", endpoint)
    existing = {bus["Name"] for bus in events.list_event_buses().get("EventBuses", [])}
    for bus in stack.buses:
        if bus not in existing:
            events.create_event_bus(Name=bus)
    for rule in stack.rules:
        events.put_rule(
            Name=rule.logical_id,
            EventBusName=rule.bus,
            EventPattern=json.dumps(rule.pattern),
            State="ENABLED",
        )
        if rule.targets:
            events.put_targets(
                Rule=rule.logical_id,
                EventBusName=rule.bus,
                Targets=[{"Id": target_id, "Arn": arn} for target_id, arn in rule.targets],
            )
