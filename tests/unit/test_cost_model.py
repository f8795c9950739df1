"""The arithmetic of the cost model (bench/cost_model.py) on known inputs: billed
durations, GB-seconds, SQS's 64 KB chunks, DynamoDB's units, ACU-seconds, and a whole
breakdown worked out by hand. Not the measured figures (bench/cost.py measures those)."""

from __future__ import annotations

import pytest

from bench import cost_model as model
from bench.cost_model import FunctionUse, MessageUse


@pytest.mark.parametrize(
    ("duration_ms", "billed"),
    [(0.2, 1), (1.0, 1), (1.01, 2), (37.4, 38), (1000.0, 1000)],
)
def test_lambda_bills_whole_milliseconds_rounded_up(duration_ms: float, billed: int) -> None:
    assert model.billed_ms(duration_ms) == billed


def test_gb_seconds_is_memory_in_gb_times_billed_seconds() -> None:
    assert model.gb_seconds(1024, 1000) == pytest.approx(1.0)
    assert model.gb_seconds(512, 100) == pytest.approx(0.05)
    assert model.gb_seconds(512, 99.1) == pytest.approx(0.05)  # 100 ms billed
    assert model.gb_seconds(128, 1) == pytest.approx(0.125 / 1000)


@pytest.mark.parametrize(
    ("payload", "requests"),
    [(0, 1), (1, 1), (65_536, 1), (65_537, 2), (262_144, 4)],
)
def test_sqs_bills_each_64_kb_chunk_as_one_request(payload: int, requests: int) -> None:
    assert model.sqs_billed_requests(payload) == requests


def test_dynamodb_units_round_up_per_kb_written_and_4_kb_read() -> None:
    assert model.dynamodb_write_units(10) == 1
    assert model.dynamodb_write_units(1024) == 1
    assert model.dynamodb_write_units(1025) == 2
    assert model.dynamodb_read_units(0, consistent=True) == 1
    assert model.dynamodb_read_units(4097, consistent=True) == 2
    assert model.dynamodb_read_units(4097, consistent=False) == 1
    assert model.dynamodb_read_units(100, consistent=False) == 0.5


def test_modelled_duration_adds_the_network_to_the_local_wall_time() -> None:
    assert model.modelled_duration_ms(
        10.0, 12, 1, db_round_trip_ms=1.0, provider_api_ms=200.0
    ) == pytest.approx(222.0)
    assert model.modelled_duration_ms(5.0, 0, 0) == 5.0


def test_acu_seconds_divide_busy_time_by_an_acus_cpu_and_the_utilisation() -> None:
    # 100 ms of CPU = 0.1 vCPU-s; a quarter vCPU per ACU: 0.4 ACU-s; at 50 %: 0.8
    assert model.acu_seconds(100.0, vcpu_per_acu=0.25, utilisation=0.5) == pytest.approx(0.8)


def test_concurrency_at_100_million_a_day() -> None:
    rate = model.per_second(100_000_000)
    assert rate == pytest.approx(1157.4, abs=0.1)
    assert model.concurrency(rate, 200.0) == pytest.approx(231.5, abs=0.1)


def test_a_whole_breakdown_by_hand() -> None:
    use = MessageUse(
        functions=[
            # 2 invocations of 9 ms local + 1 round trip (1 ms) = 10 ms at 1024 MB
            FunctionUse("webhook", 2.0, 9.0, 1.0),
            # 0.1 invocations of 0 ms + 0 round trips + 1 provider call (200 ms) at 512 MB
            FunctionUse("outbound", 0.1, 0.0, 0.0, provider_calls=1.0),
        ],
        db_cpu_ms=3.0,
        sqs_requests=2.0,
        dynamodb_wru=2.0,
        dynamodb_rru=1.0,
        eventbridge_events=1.0,
        api_gateway_requests=2.0,
        log_bytes=2000.0,
    )
    lines = {
        line.item: line.dollars_per_million
        for line in model.cost_per_million(use, {"webhook": 1024, "outbound": 512}).lines
    }
    gb_s = 2 * 0.010 + 0.1 * 0.5 * 0.2
    assert lines["Lambda GB-seconds"] == pytest.approx(
        gb_s * model.LAMBDA_ARM64_PER_GB_SECOND * 1e6
    )
    assert lines["Lambda requests"] == pytest.approx(2.1 * model.LAMBDA_PER_MILLION_REQUESTS)
    assert lines["API Gateway (REST)"] == pytest.approx(
        2 * model.API_GATEWAY_REST_PER_MILLION_REQUESTS
    )
    assert lines["SQS"] == pytest.approx(2 * model.SQS_STANDARD_PER_MILLION_REQUESTS)
    assert lines["DynamoDB on-demand"] == pytest.approx(
        2 * model.DYNAMODB_ON_DEMAND_PER_MILLION_WRU + model.DYNAMODB_ON_DEMAND_PER_MILLION_RRU
    )
    assert lines["EventBridge"] == pytest.approx(model.EVENTBRIDGE_PER_MILLION_EVENTS)
    # 2,000 bytes of log lines a message: 2 GB a million
    assert lines["CloudWatch Logs"] == pytest.approx(2 * model.CLOUDWATCH_LOGS_PER_GB_INGESTED)
    # 3 ms of CPU: 0.003 / 0.25 / 0.5 = 0.024 ACU-s a message
    acu_hours = 0.024 / 3600
    assert lines["Aurora Serverless v2"] == pytest.approx(
        acu_hours * model.AURORA_SERVERLESS_V2_PER_ACU_HOUR * 1e6
    )
    assert lines["RDS Proxy"] == pytest.approx(acu_hours * model.RDS_PROXY_PER_ACU_HOUR * 1e6)
    breakdown = model.cost_per_million(use, {"webhook": 1024, "outbound": 512})
    assert breakdown.total == pytest.approx(sum(lines.values()))
