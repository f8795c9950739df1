"""No client body makes the API answer 5xx (issue 13): generated bodies on every POST,
PUT and PATCH route of the OpenAPI document, sent as API Gateway proxy events to the api
function against real PostgreSQL. Bodies: random bytes, JSON in UTF-16/32 or behind a
byte-order mark, nesting thousands deep, numbers of thousands of digits or out of
float range, NaN, NUL and unpaired surrogates, and each route's own fields filled with
extreme values. The unreadable ones must be a 400 naming the problem."""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functions.api.app as api_app
from tests.support.api_client import Api, proxy_event
from tests.support.api_scenes import build_campaign, seed_inbox
from tests.support.lambda_context import LambdaContextStub
from tether.api.resolver import openapi_json

DOCUMENT = json.loads(openapi_json())
ROUTES = sorted(
    (method.upper(), path, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if method in {"post", "put", "patch"}
)
EXAMPLES = 1500
CASES: list[tuple[str, str, int]] = []  # (kind, route, status) of every case sent

# --- bodies


def _utf8_or_base64(raw: bytes) -> tuple[str, bool]:
    """As API Gateway (and the local gateway) hand a body over: text when it is UTF-8."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode(), True


ODD_TEXT = st.sampled_from(
    ["\x00", "STOP\x00", "\ud800", "a\udfffb", "\ud83d", "\ufeff", "\u202e", "+1 212 555 0", ""]
)
TEXT = st.one_of(ODD_TEXT, st.text(max_size=30), st.text(min_size=5000, max_size=6000))
NUMBER = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just(2**63),
    st.just(-(2**31) - 1),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | NUMBER | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _dumps(value: Any) -> bytes:
    # ensure_ascii writes lone surrogates as \ud800 escapes, as a client library would
    return json.dumps(value, ensure_ascii=True).encode()


@st.composite
def random_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    return "bytes", draw(st.binary(max_size=300))


@st.composite
def other_encodings(draw: st.DrawFn) -> tuple[str, bytes]:
    text = json.dumps(draw(JSON_VALUE | st.just({"name": "Spring", "pool": "Outreach"})))
    codec = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"]))
    return f"encoding:{codec}", text.encode(codec, errors="surrogatepass")


@st.composite
def deep(draw: st.DrawFn) -> tuple[str, bytes]:
    depth = draw(st.integers(min_value=33, max_value=5000))
    if draw(st.booleans()):
        return "depth", b"[" * depth + b"]" * depth
    return "depth", b'{"a":' * depth + b"1" + b"}" * depth


@st.composite
def magnitudes(draw: st.DrawFn) -> tuple[str, bytes]:
    digits = draw(st.integers(min_value=101, max_value=6000))
    literal = draw(
        st.sampled_from(
            [
                "9" * digits,
                "-" + "1" * digits,
                "1" + "0" * digits + ".5",
                f"1e{digits + 308}",
                f"-1.5e{digits + 308}",
                "NaN",
                "Infinity",
                "-Infinity",
            ]
        )
    )
    field = draw(st.sampled_from(["limit", "rotation_numbers", "lease_hours", "x"]))
    return "magnitude", f'{{"{field}": {literal}}}'.encode()


@st.composite
def json_values(draw: st.DrawFn) -> tuple[str, bytes]:
    return "json", _dumps(draw(JSON_VALUE))


def _fields(operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


EXTREME = st.one_of(
    ODD_TEXT,
    st.sampled_from([10**30, -(10**30), 2**63, 1e308, -1, 0, 1.5, True, [], {}, "9" * 90]),
    st.sampled_from(["2026-02-30T25:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]),
    st.sampled_from(["00000000-0000-0000-0000-000000000000", "not-a-uuid"]),
    st.lists(ODD_TEXT | NUMBER, max_size=3),
    st.lists(st.fixed_dictionaries({"phone": ODD_TEXT | TEXT}), max_size=3),
)


@st.composite
def shaped(draw: st.DrawFn, fields: list[str]) -> tuple[str, bytes]:
    """The route's own fields, each an extreme or odd value: reaches past validation."""
    chosen = draw(st.lists(st.sampled_from(fields), unique=True)) if fields else []
    return "fields", _dumps({name: draw(EXTREME) for name in chosen})


def bodies(fields: list[str]) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(
        random_bytes(),
        other_encodings(),
        deep(),
        magnitudes(),
        json_values(),
        shaped(fields),
    )


UNREADABLE = ("bytes", "encoding", "depth", "magnitude")


# --- the test


@pytest.fixture
def tenant(api: Api) -> dict[str, Any]:
    client = api.tenant("Body Co")
    scene = build_campaign(api, client, leads=2)
    seeded = seed_inbox(api.admin, client.tenant_id, scene)
    spare = client.post("/v1/api-keys", {"name": "spare", "scope": "read"}).body["id"]
    launch = client.post(
        f"/v1/campaigns/{scene.campaign_id}/launch", {"launch_at": "2026-12-01T00:00:00Z"}
    )
    number = api.admin.execute(
        "SELECT id FROM phone_numbers WHERE tenant_id = %s", (client.tenant_id,)
    ).fetchone()
    assert number is not None
    account = api.admin.execute(
        "SELECT id FROM provider_accounts WHERE tenant_id = %s", (client.tenant_id,)
    ).fetchone()
    assert account is not None
    subscription = client.post(
        "/v1/event-subscriptions",
        {"url": "https://hooks.example.com/body", "event_types": ["reply.received"]},
    ).body["id"]
    ids = {
        "subscription_id": subscription,
        "account_id": str(account["id"]),
        "campaign_id": scene.campaign_id,
        "lead_id": scene.lead_ids[0],
        "notification_id": str(seeded["notification_id"]),
        "message_id": str(seeded["unmatched_id"]),
        "number_id": str(number["id"]),
        "key_id": spare,
        "launch_id": launch.body["id"],
        "timer_type": "TIMER_7D",
    }
    return {"key": client.key, "ids": ids}


def _path(template: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", value)
    assert "{" not in template, template
    return template


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, str, tuple[str, bytes]]:
    method, path, operation = draw(st.sampled_from(ROUTES))
    content = operation.get("requestBody", {}).get("content", {})
    content_type = "text/csv" if "text/csv" in content else "application/json"
    return method, path, content_type, draw(bodies(_fields(operation)))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(request=requests())
def send_every_kind_of_body(
    tenant: dict[str, Any], request: tuple[str, str, str, tuple[str, bytes]]
) -> None:
    """The generated bodies (derandomised: the same cases each run), each checked."""
    method, template, content_type, (kind, raw) = request
    text, is_base64 = _utf8_or_base64(raw)
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {tenant['key']}"}
    event = proxy_event(method, _path(template, tenant["ids"]), headers, text or None)
    event["isBase64Encoded"] = is_base64 and bool(text)
    response = api_app.handler(event, LambdaContextStub(function_name="tether-api"))
    status = response["statusCode"]
    CASES.append((kind, f"{method} {template}", status))
    assert status < 500, (kind, template, raw[:200], response["body"][:500])
    if status >= 400:
        answer = json.loads(response["body"])
        assert answer["message"], answer
        assert "_key" not in answer["message"]
    unreadable = kind.startswith(UNREADABLE) and content_type == "application/json"
    # refused up front, saying why (random bytes may by chance be a JSON value: the
    # route then judges it)
    if unreadable and raw.strip() and (kind != "bytes" or not _plain_json(raw)):
        assert status in {400, 422}, (kind, template, raw[:100], response["body"])


def test_no_body_on_any_writing_route_makes_a_5xx(tenant: dict[str, Any]) -> None:
    send_every_kind_of_body(tenant)


def _plain_json(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def test_every_writing_route_and_every_kind_of_body_ran(tenant: dict[str, Any]) -> None:
    """How many of the cases above ran, on which routes, with which answers: they run
    here when this test comes first or alone, so it depends on no order."""
    if not CASES:
        send_every_kind_of_body(tenant)
    routes = {route for _, route, _ in CASES}
    kinds = {kind.split(":")[0] for kind, _, _ in CASES}
    statuses = sorted({status for _, _, status in CASES})
    print(json.dumps({"body_cases": len(CASES), "routes": len(routes), "statuses": statuses}))
    assert routes == {f"{method} {path}" for method, path, _ in ROUTES}
    assert kinds == {"bytes", "encoding", "depth", "magnitude", "json", "fields"}
    assert all(status < 500 for status in statuses)
    assert 400 in statuses
    assert any(status < 300 for status in statuses)


def test_the_route_table_has_the_writing_routes() -> None:
    assert len(ROUTES) >= 20
    assert {path for _, path, _ in ROUTES} >= {"/v1/campaigns", "/v1/settings", "/v1/messages"}
    UUID(int=0)  # the ids above are UUIDs; the fixture fills each path parameter
