"""Faults the local stack injects on request (the soak, `make soak`): development only,
never in the layer. The functions' SQS sends fail at a seeded rate, as a network or
SQS outage does: the call raises before it reaches the queue (botocore's
EndpointConnectionError), so the layer's own adapter and recovery (the sweeper's
re-drive, a webhook's 5xx and the provider's retry) meet it as they would in AWS."""

from __future__ import annotations

import random
import threading
from typing import Any

from tether_dev.local.logs import stack_logger

SQS_SENDS = frozenset({"SendMessage", "SendMessageBatch"})
FAULT_LOG_LINE = "fault injected: SQS send failed"


class SqsSendFaults:
    """Fails a share of the process's SQS SendMessage(Batch) calls, drawn from `seed`."""

    def __init__(self, rate: float, seed: int) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("the SQS send failure rate is a share between 0 and 1")
        self.rate = rate
        self.injected = 0
        self._random = random.Random(seed)  # noqa: S311 - a simulation, not a secret
        self._lock = threading.Lock()
        self._original: Any = None

    def should_fail(self, service: str, operation: str) -> bool:
        if service != "sqs" or operation not in SQS_SENDS or self.rate <= 0:
            return False
        with self._lock:
            fail = self._random.random() < self.rate
            if fail:
                self.injected += 1
        return fail

    def install(self) -> SqsSendFaults:
        """Patch botocore's client call for the whole process (the functions share it)."""
        from botocore.client import BaseClient
        from botocore.exceptions import EndpointConnectionError

        original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - untyped in the stubs
        self._original = original
        faults = self

        def make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
            service = client.meta.service_model.service_name
            if faults.should_fail(service, operation_name):
                stack_logger().warning(
                    FAULT_LOG_LINE,
                    extra={"operation": operation_name, "injected": faults.injected},
                )
                raise EndpointConnectionError(endpoint_url=client.meta.endpoint_url)
            return original(client, operation_name, api_params)

        setattr(BaseClient, "_make_api_call", make_api_call)  # noqa: B010
        return self

    def uninstall(self) -> None:
        """botocore as it was (a test's process outlives the faults)."""
        from botocore.client import BaseClient

        if self._original is not None:
            setattr(BaseClient, "_make_api_call", self._original)  # noqa: B010
            self._original = None
