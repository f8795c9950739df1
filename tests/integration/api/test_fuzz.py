"""Fuzzing the API from its own OpenAPI document (schemathesis): valid and invalid
requests for every operation, sent to the api function in process through a WSGI shim
that turns each request into an API Gateway proxy event, against real PostgreSQL.
Whatever comes in: never a 5xx, and every response as the document describes it.

Bounded for `make test`: a fixed number of cases per operation, derandomised."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import functions.api.app as api_app
from tests.support.api_client import Api, Client
from tests.support.api_scenes import build_campaign, seed_inbox
from tests.support.lambda_context import LambdaContextStub
from tether.config import PROJECT_ROOT

CASES_PER_OPERATION = 5
CASES_RUN: list[tuple[str, int]] = []  # (operation, status) of every case sent

schema = schemathesis.openapi.from_path(PROJECT_ROOT / "openapi.json")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=CASES_PER_OPERATION,
    deterministic=True,
)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def lambda_as_wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The request as API Gateway would hand it to the function, and the function's
    answer as HTTP."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    event = {
        "resource": "/v1/{proxy+}",
        "path": environ["PATH_INFO"],
        "httpMethod": environ["REQUEST_METHOD"],
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": environ["PATH_INFO"].removeprefix("/v1/")},
        "requestContext": {
            "stage": "dev",
            "requestId": "fuzz",
            "httpMethod": environ["REQUEST_METHOD"],
        },
        # API Gateway hands text through (binary types are not configured)
        "body": raw.decode("utf-8", errors="replace") if raw else None,
        "isBase64Encoded": False,
    }
    response = api_app.handler(event, LambdaContextStub(function_name="tether-api"))
    answered = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    answered.update(response.get("headers") or {})
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    start_response(f"{response['statusCode']} -", list(answered.items()))
    return [payload]


@dataclass
class Fuzzed:
    client: Client
    ids: dict[str, str]  # path parameter → an id of the tenant's


@pytest.fixture
def fuzzed_tenant(api: Api) -> Fuzzed:
    """A tenant with a campaign, leads, a thread, a notification, a call and an unmatched
    reply, so lists have rows and id routes can find what they name."""
    client = api.tenant("Fuzz Co")
    scene = build_campaign(api, client, leads=2)
    seeded = seed_inbox(api.admin, client.tenant_id, scene)
    spare = client.post("/v1/api-keys", {"name": "spare"}).body["id"]  # the fuzz key stays live
    number = api.admin.execute(
        "SELECT id FROM phone_numbers WHERE tenant_id = %s", (client.tenant_id,)
    ).fetchone()
    assert number is not None
    subscription = client.post(
        "/v1/event-subscriptions",
        {"url": "https://hooks.example.com/fuzz", "event_types": ["reply.received"]},
    ).body["id"]
    ids = {
        "subscription_id": subscription,
        "campaign_id": scene.campaign_id,
        "lead_id": scene.lead_ids[0],
        "thread_id": seeded["thread_id"],
        "notification_id": seeded["notification_id"],
        "message_id": seeded["unmatched_id"],
        "number_id": str(number["id"]),
        "key_id": spare,
    }
    return Fuzzed(client, ids)


def _with_real_ids(case: Any, ids: dict[str, str]) -> None:
    """Well-formed ids in the path become the tenant's own, so valid requests reach a
    resource; malformed ones stay, for the 422s."""
    for name, value in list((case.path_parameters or {}).items()):
        try:
            UUID(str(value))
        except ValueError:
            continue
        if name in ids:
            case.path_parameters[name] = ids[name]


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_no_input_makes_a_5xx_and_every_answer_matches_the_document(
    case: Any, fuzzed_tenant: Fuzzed
) -> None:
    send_and_check(case, fuzzed_tenant)


def send_and_check(case: Any, fuzzed_tenant: Fuzzed) -> None:
    """One generated request, sent as the tenant, its answer checked against the
    document."""
    _with_real_ids(case, fuzzed_tenant.ids)
    case.headers = {
        **(case.headers or {}),
        "Authorization": f"Bearer {fuzzed_tenant.client.key}",
    }
    response = case.call(app=lambda_as_wsgi)
    CASES_RUN.append((case.operation.label, response.status_code))
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def fuzz_operations_not_yet_run(fuzzed_tenant: Fuzzed) -> None:
    """Every operation whose cases have not run in this session (this test alone, or
    before them) fuzzed here the same way: valid and invalid, derandomised."""
    done = {operation for operation, _ in CASES_RUN}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document is ours and valid
        operation = result.ok()
        if operation.label in done:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=CASES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case: Any) -> None:
                send_and_check(case, fuzzed_tenant)

            send()


def test_fuzz_reached_every_operation_past_auth_and_validation(fuzzed_tenant: Fuzzed) -> None:
    """The fuzz cases ran, got past the key and the validation often enough to mean
    something, and how many ran. Depends on no order: what has not run yet runs here."""
    fuzz_operations_not_yet_run(fuzzed_tenant)
    operations = {operation for operation, _ in CASES_RUN}
    succeeded = {operation for operation, status in CASES_RUN if status < 300}
    statuses = sorted({status for _, status in CASES_RUN})
    print(
        json.dumps(
            {
                "fuzz_cases": len(CASES_RUN),
                "operations": len(operations),
                "operations_with_2xx": len(succeeded),
                "statuses": statuses,
            }
        )
    )
    assert len(operations) == len(list(schema.get_all_operations()))
    assert 401 not in statuses
    assert len(succeeded) >= len(operations) * 2 // 3
    assert all(status < 500 for status in statuses)
