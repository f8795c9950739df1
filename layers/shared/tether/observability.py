"""Observability for the whole package, in one place (Powertools): one logger, one
metrics object and one tracer.

Every log line goes through `RedactingFormatter`: no key material, ever, and phone
numbers masked to their last four digits, except with LogLevel=DEBUG on the local stage
(where a developer needs to see which lead is which).

The tracer (X-Ray; the template sets `Tracing: Active`) is made on a handler's first
invocation, not at import, and only where it sends traces (tether.config.TracingSettings:
in Lambda, POWERTOOLS_TRACE_DISABLED not set): elsewhere (tests, the local stack, `make
openapi`) the X-Ray SDK is never loaded. botocore is patched when the first AWS client
is made (tether.aws.clients), so a cold start that calls no AWS service loads no
botocore for the tracer's sake. http.client is not patched: the providers and the
webhook sender speak urllib3 2, whose requests X-Ray's httplib patch does not see (it
wraps `HTTPConnection._send_request`, which urllib3 2 no longer calls), and importing
the patch loads urllib3 (about 40 ms)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.constants import MAX_METRICS
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.metric_properties import (
    MetricResolution,
    MetricUnit,
)

from tether.domain.redaction import redact, redact_key_material

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.logging.types import LogRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

EventT = TypeVar("EventT")
ResultT = TypeVar("ResultT")

# The API Gateway request id (requestContext.requestId): the correlation id of every
# line an API or webhook request logs, and what API Gateway's access log records.
API_GATEWAY_REQUEST = correlation_paths.API_GATEWAY_REST
# What X-Ray records of the calls a handler makes: AWS services (SQS, DynamoDB, Secrets
# Manager). Postgres and the providers show as the time between them.
AWS_CALLS = ("botocore",)

# Keys Powertools fills itself: never a phone number or a key, and left as they are.
_OWN_KEYS = frozenset(
    {
        "level",
        "location",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "correlation_id",
    }
)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with every other string value redacted (recursively)."""

    def serialize(self, log: LogRecord) -> str:
        rule = redact_key_material if _phone_numbers_visible() else redact
        cleaned = {
            key: value if key in _OWN_KEYS else _cleaned(value, rule) for key, value in log.items()
        }
        return super().serialize(cleaned)


def _cleaned(value: Any, rule: Any) -> Any:
    if isinstance(value, str):
        return rule(value)
    if isinstance(value, dict):
        return {key: _cleaned(item, rule) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cleaned(item, rule) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # anything else the JSON serializer would print with str() (exceptions, UUIDs)
    return rule(str(value))


def _phone_numbers_visible() -> bool:
    from tether.config import stage_settings

    return (
        stage_settings().is_local
        and logging.getLogger("tether").getEffectiveLevel() <= logging.DEBUG
    )


logger = Logger(service="tether", logger_formatter=RedactingFormatter())


class _EmfOutput(AmazonCloudWatchEMFProvider):
    """Powertools' EMF output, silent and bounded when POWERTOOLS_METRICS_DISABLED is set
    (benchmarks, the local stack). Powertools' own flush then prints nothing but clears
    nothing either, so a process running many invocations keeps every value; and when a
    metric reaches 100 values, add_metric prints the set itself without checking the
    flag: pages of EMF lines from a process told to print none."""

    def add_metric(
        self,
        name: str,
        unit: MetricUnit | str,
        value: float,
        resolution: MetricResolution | int = 60,
    ) -> None:
        if is_metrics_disabled():
            held = self.metric_set.get(name.strip())
            if len(self.metric_set) >= MAX_METRICS - 1 or (
                held is not None and len(held["Value"]) >= MAX_METRICS - 1
            ):
                self.metric_set.clear()  # what Powertools would print now: never published
        super().add_metric(name, unit, value, resolution)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if is_metrics_disabled():
            self.clear_metrics()  # the invocation's metrics: not published, not kept
            return
        super().flush_metrics(raise_on_empty_metrics)


class _Metrics(Metrics):
    def __init__(self, namespace: str, service: str) -> None:
        super().__init__(namespace=namespace, service=service)
        self.provider = _EmfOutput(
            metric_set=self.metric_set,
            dimension_set=self.dimension_set,
            namespace=namespace,
            metadata_set=self.metadata_set,
            service=service,
            default_dimensions=self.default_dimensions,
        )


metrics: Metrics = _Metrics(namespace="Tether", service="tether")


@functools.cache
def tracer() -> Tracer:
    """The container's tracer, made on first use: call it only where tracing is active."""
    from aws_lambda_powertools import Tracer

    return Tracer(service="tether", auto_patch=False)  # botocore: `trace_aws_calls`


def tracing_active() -> bool:
    from tether.config import tracing_settings

    return tracing_settings().active


def trace_aws_calls() -> None:
    """X-Ray records each AWS call from now on, where tracing is active. Called before
    the first AWS client is made; botocore is loaded by then anyway."""
    if tracing_active():
        tracer().patch(AWS_CALLS)


def capture_lambda_handler(
    handler: Callable[[EventT, LambdaContext], ResultT],
) -> Callable[[EventT, LambdaContext], ResultT]:
    """`tracer().capture_lambda_handler` around `handler` where tracing is active, the
    tracer made on the first invocation; elsewhere `handler` itself. Neither the response
    nor an error's text goes into the trace: both can hold phone numbers, which the logs
    redact and X-Ray would not."""
    traced: list[Callable[[EventT, LambdaContext], ResultT]] = []

    @functools.wraps(handler)
    def run(event: EventT, context: LambdaContext) -> ResultT:
        if not traced:
            traced.append(
                tracer().capture_lambda_handler(
                    handler, capture_response=False, capture_error=False
                )
                if tracing_active()
                else handler
            )
        return traced[0](event, context)

    return run
