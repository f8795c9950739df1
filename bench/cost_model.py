"""The arithmetic of `make bench-cost` (bench/cost.py): from what one message's life
measured (invocations, their wall time, database round trips and time, AWS requests) to
dollars per million messages. Pure functions over plain numbers; the prices and the
assumptions are the named constants below.

PRICES ARE LIST PRICES FOR us-east-1 AS REMEMBERED WHEN THIS WAS WRITTEN, WITHOUT A WAY
TO CHECK THEM (no internet): check each against the AWS pricing pages before relying on
a figure. Free tiers are left out (they are noise at a million messages).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

# -- prices (us-east-1 list prices, unchecked: see the module docstring) -------------
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334  # first 6 billion GB-s a month
LAMBDA_PER_MILLION_REQUESTS = 0.20
SQS_STANDARD_PER_MILLION_REQUESTS = 0.40  # each 64 KB chunk of a payload is one request
SQS_BILLING_CHUNK_BYTES = 64 * 1024
DYNAMODB_ON_DEMAND_PER_MILLION_WRU = 0.625  # after the November 2024 on-demand price cut
DYNAMODB_ON_DEMAND_PER_MILLION_RRU = 0.125
DYNAMODB_WRITE_UNIT_BYTES = 1024  # one WRU writes up to 1 KB
DYNAMODB_READ_UNIT_BYTES = 4096  # one RRU: a strongly consistent read up to 4 KB
AURORA_SERVERLESS_V2_PER_ACU_HOUR = 0.12  # Aurora Standard (I/O billed apart, not here)
RDS_PROXY_PER_ACU_HOUR = 0.015  # RDS Proxy in front of Aurora Serverless v2
EVENTBRIDGE_PER_MILLION_EVENTS = 1.00  # custom events put on a bus, per 64 KB chunk
API_GATEWAY_REST_PER_MILLION_REQUESTS = 3.50  # REST API, first 333 million a month
SECRETS_MANAGER_PER_MILLION_CALLS = 5.00  # $0.05 per 10,000 API calls
CLOUDWATCH_LOGS_PER_GB_INGESTED = 0.50  # standard log class

# -- assumptions that turn local measurements into Lambda's billed duration ----------
# Locally the database answers over loopback (tens of microseconds); in AWS each round
# trip crosses the VPC to RDS Proxy and on to Aurora.
DB_ROUND_TRIP_MS = 1.0
# An SMS provider's REST API answering a send (the sandbox answers locally in about a
# millisecond): Twilio-like APIs answer in roughly 150-250 ms from us-east-1.
PROVIDER_API_MS = 200.0
# Aurora Serverless v2: an ACU is "about 2 GiB of memory with corresponding CPU";
# taking an r6g-like ratio (8 GiB per vCPU), one ACU is about a quarter of a vCPU.
VCPU_PER_ACU = 0.25
# Serverless v2 scales to keep headroom: the ACUs billed are about twice the busy CPU.
AURORA_TARGET_UTILISATION = 0.5
MESSAGES_PER_DAY_AT_SCALE = 100_000_000
PEAK_TO_AVERAGE = 3.0  # outreach is sent in business hours: the peak hour at ~3x average


@dataclass(frozen=True)
class FunctionUse:
    """What one function did per message: how many invocations, and per invocation
    (medians) its local wall time, the database round trips and the provider API calls
    in it (the figures the modelled duration is made of)."""

    function: str
    invocations_per_message: float
    wall_ms: float
    db_round_trips: float
    provider_calls: float = 0.0


@dataclass(frozen=True)
class MessageUse:
    """One message's life, sent or received: the functions it ran and the requests to
    priced services it made, per message."""

    functions: list[FunctionUse]
    db_cpu_ms: float  # the database server's CPU time (backends and its own processes)
    sqs_requests: float  # billed requests: 64 KB chunks, at least one a call
    dynamodb_wru: float
    dynamodb_rru: float
    eventbridge_events: float
    api_gateway_requests: float
    secrets_manager_calls: float = 0.0
    log_bytes: float = 0.0  # the functions' log lines (CloudWatch Logs ingests them)


@dataclass(frozen=True)
class CostLine:
    item: str
    dollars_per_million: float
    detail: str = ""


@dataclass(frozen=True)
class CostBreakdown:
    lines: list[CostLine] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.dollars_per_million for line in self.lines)


def billed_ms(duration_ms: float) -> int:
    """Lambda bills duration rounded up to the next millisecond."""
    return max(1, math.ceil(duration_ms))


def gb_seconds(memory_mb: int, duration_ms: float) -> float:
    """GB-seconds one invocation is billed: its memory (MB/1024) times its billed duration."""
    return memory_mb / 1024 * billed_ms(duration_ms) / 1000


def modelled_duration_ms(
    wall_ms: float,
    db_round_trips: float,
    provider_calls: float,
    *,
    db_round_trip_ms: float = DB_ROUND_TRIP_MS,
    provider_api_ms: float = PROVIDER_API_MS,
) -> float:
    """An invocation's duration in AWS: what it took locally, plus the network a round
    trip to the database and a call to the provider add there."""
    return wall_ms + db_round_trips * db_round_trip_ms + provider_calls * provider_api_ms


def sqs_billed_requests(payload_bytes: int) -> int:
    """SQS bills each 64 KB chunk of a request's payload as one request (at least one)."""
    return max(1, math.ceil(payload_bytes / SQS_BILLING_CHUNK_BYTES))


def dynamodb_write_units(item_bytes: int) -> int:
    """On-demand write request units of one write: one per KB of the item, rounded up."""
    return max(1, math.ceil(item_bytes / DYNAMODB_WRITE_UNIT_BYTES))


def dynamodb_read_units(item_bytes: int, *, consistent: bool) -> float:
    """Read request units of one read: one per 4 KB for a strongly consistent read,
    half that for an eventually consistent one (a read of nothing still costs one)."""
    units = max(1, math.ceil(item_bytes / DYNAMODB_READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def acu_seconds(
    db_cpu_ms: float,
    *,
    vcpu_per_acu: float = VCPU_PER_ACU,
    utilisation: float = AURORA_TARGET_UTILISATION,
) -> float:
    """ACU-seconds Aurora Serverless v2 bills for `db_cpu_ms` of the database server's
    CPU time: as vCPU-seconds, over the vCPU an ACU gives, over the utilisation it keeps."""
    return db_cpu_ms / 1000 / vcpu_per_acu / utilisation


def concurrency(per_second: float, duration_ms: float) -> float:
    """Little's law: the executions (and so connections) in flight at a rate."""
    return per_second * duration_ms / 1000


def per_second(messages_per_day: float) -> float:
    return messages_per_day / 86_400


def cost_per_million(use: MessageUse, memory_mb: Mapping[str, int]) -> CostBreakdown:
    """Dollars per million messages of this kind, by line item."""
    lines: list[CostLine] = []
    lambda_compute = 0.0
    lambda_requests = 0.0
    for f in use.functions:
        duration = modelled_duration_ms(f.wall_ms, f.db_round_trips, f.provider_calls)
        lambda_compute += (
            f.invocations_per_message
            * gb_seconds(memory_mb[f.function], duration)
            * LAMBDA_ARM64_PER_GB_SECOND
            * 1e6
        )
        lambda_requests += f.invocations_per_message * LAMBDA_PER_MILLION_REQUESTS
    invocations = sum(f.invocations_per_message for f in use.functions)
    lines.append(CostLine("Lambda GB-seconds", lambda_compute, "arm64, modelled durations"))
    lines.append(CostLine("Lambda requests", lambda_requests, f"{invocations:.2f} invocations"))
    lines.append(
        CostLine(
            "API Gateway (REST)",
            use.api_gateway_requests * API_GATEWAY_REST_PER_MILLION_REQUESTS,
            f"{use.api_gateway_requests:.2f} requests",
        )
    )
    lines.append(
        CostLine(
            "SQS",
            use.sqs_requests * SQS_STANDARD_PER_MILLION_REQUESTS,
            f"{use.sqs_requests:.2f} requests",
        )
    )
    lines.append(
        CostLine(
            "DynamoDB on-demand",
            use.dynamodb_wru * DYNAMODB_ON_DEMAND_PER_MILLION_WRU
            + use.dynamodb_rru * DYNAMODB_ON_DEMAND_PER_MILLION_RRU,
            f"{use.dynamodb_wru:.2f} WRU, {use.dynamodb_rru:.2f} RRU",
        )
    )
    lines.append(
        CostLine(
            "EventBridge",
            use.eventbridge_events * EVENTBRIDGE_PER_MILLION_EVENTS,
            f"{use.eventbridge_events:.2f} events",
        )
    )
    lines.append(
        CostLine(
            "Secrets Manager",
            use.secrets_manager_calls * SECRETS_MANAGER_PER_MILLION_CALLS,
            f"{use.secrets_manager_calls:.3f} calls",
        )
    )
    lines.append(
        CostLine(
            "CloudWatch Logs",
            use.log_bytes * 1e6 / 1e9 * CLOUDWATCH_LOGS_PER_GB_INGESTED,
            f"{use.log_bytes:.0f} bytes",
        )
    )
    acu_hours = acu_seconds(use.db_cpu_ms) / 3600
    lines.append(
        CostLine(
            "Aurora Serverless v2",
            acu_hours * AURORA_SERVERLESS_V2_PER_ACU_HOUR * 1e6,
            f"{acu_seconds(use.db_cpu_ms) * 1000:.2f} ACU-ms",
        )
    )
    lines.append(CostLine("RDS Proxy", acu_hours * RDS_PROXY_PER_ACU_HOUR * 1e6, "per ACU-hour"))
    return CostBreakdown(lines)
