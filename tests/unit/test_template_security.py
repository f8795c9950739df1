"""template.yaml's security settings, read from the file itself: each function may call
only what its code calls, provider secrets only under its stage's tenant paths, and the
REST API is throttled and logged; the functions that take STOPs have concurrency kept
for them (issues 13 and 24)."""

from __future__ import annotations

from typing import Any

import pytest

from tether.config import PROJECT_ROOT
from tether_dev.local.template import load_template

TEMPLATE = load_template(PROJECT_ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {
    name: resource["Properties"]
    for name, resource in RESOURCES.items()
    if resource["Type"] == "AWS::Serverless::Function"
}
TENANT_SECRETS = (
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
    ":secret:tether/${Stage}/tenants/*"
)
# webhook subscriptions' signing secrets only (deliveries are signed with them)
SUBSCRIPTION_SECRETS = (
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
    ":secret:tether/${Stage}/tenants/*/event-subscriptions/*"
)
IDEMPOTENCY = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
WRITE_SECRETS = {
    "secretsmanager:CreateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:TagResource",
    "secretsmanager:DeleteSecret",
}
# What each function's code calls (boto3 and Powertools), and nothing else.
EXPECTED_ACTIONS = {
    "MigrateFunction": {"secretsmanager:GetSecretValue"},
    "InboundFunction": {"sqs:SendMessage", "secretsmanager:GetSecretValue"},
    "InboundEmailFunction": {"s3:GetObject", "sqs:SendMessage", "secretsmanager:GetSecretValue"},
    "OutboundFunction": {"sqs:SendMessage", "secretsmanager:GetSecretValue"},
    "LaunchFunction": {"sqs:SendMessage", "secretsmanager:GetSecretValue"},
    "PoolReleaseFunction": {"sqs:SendMessage", "secretsmanager:GetSecretValue"},
    "DeliverEventsFunction": {
        "events:PutEvents",
        "secretsmanager:GetSecretValue",
        "dynamodb:Query",
        "dynamodb:DeleteItem",
        "execute-api:ManageConnections",
    },
    "TimersFunction": {"sqs:SendMessage", "secretsmanager:GetSecretValue"},
    "WebhookFunction": IDEMPOTENCY | {"sqs:SendMessage", "secretsmanager:GetSecretValue"},
    "ApiFunction": WRITE_SECRETS
    | {"sqs:SendMessage", "secretsmanager:GetSecretValue", "s3:GetObject"},
    "MediaFunction": {"s3:PutObject", "secretsmanager:GetSecretValue"},
    "SweeperFunction": {"sqs:SendMessage", "secretsmanager:GetSecretValue"},
    "WebSocketFunction": {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
    },
    "WebSocketAuthorizerFunction": {"secretsmanager:GetSecretValue"},
}


def statements(function: str) -> list[dict[str, Any]]:
    """Every statement of the function's policies. A SAM policy template or a managed
    policy name would hide its actions from this test, so none is allowed."""
    found: list[dict[str, Any]] = []
    for policy in FUNCTIONS[function].get("Policies") or []:
        assert isinstance(policy, dict), f"{function}: {policy!r} hides its actions"
        assert set(policy) <= {"Version", "Statement"}, f"{function}: a policy template"
        found.extend(policy["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resource_text(resource: Any) -> str:
    if isinstance(resource, dict):
        (tag, value), *_ = resource.items()
        return f"{tag}:{value if isinstance(value, str) else value[0]}"
    return str(resource)


def test_every_function_is_listed() -> None:
    assert set(FUNCTIONS) == set(EXPECTED_ACTIONS)


@pytest.mark.parametrize("function", sorted(EXPECTED_ACTIONS))
def test_no_function_policy_grants_scan_batch_or_wildcard_actions(function: str) -> None:
    actions = [a for s in statements(function) for a in as_list(s["Action"])]
    assert actions
    for action in actions:
        assert "*" not in action, (function, action)
        name = action.split(":", 1)[1]
        assert "Scan" not in name, (function, action)
        assert not name.startswith("Batch"), (function, action)
    for statement in statements(function):
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            assert resource != "*", (function, statement)


@pytest.mark.parametrize("function", sorted(EXPECTED_ACTIONS))
def test_each_function_gets_only_the_actions_it_calls(function: str) -> None:
    actions = {a for s in statements(function) for a in as_list(s["Action"])}
    assert actions == EXPECTED_ACTIONS[function]


@pytest.mark.parametrize("function", sorted(EXPECTED_ACTIONS))
def test_secrets_are_its_database_role_or_its_stages_tenant_paths(function: str) -> None:
    for statement in statements(function):
        if not any(a.startswith("secretsmanager:") for a in as_list(statement["Action"])):
            continue
        for resource in as_list(statement["Resource"]):
            text = resource_text(resource)
            assert text in (
                "Ref:DbAdminSecretArn",
                "Ref:DbAppSecretArn",
                "Ref:DbJobsSecretArn",
                f"Fn::Sub:{TENANT_SECRETS}",
                f"Fn::Sub:{SUBSCRIPTION_SECRETS}",
            ), (function, text)
            # writing secrets: the API alone, and only under the tenant paths
            if set(as_list(statement["Action"])) & WRITE_SECRETS:
                assert function == "ApiFunction"
                assert text == f"Fn::Sub:{TENANT_SECRETS}"


def test_provider_secrets_are_read_only_where_they_are_used() -> None:
    readers = {
        function
        for function in FUNCTIONS
        for s in statements(function)
        if "secretsmanager:GetSecretValue" in as_list(s["Action"])
        and f"Fn::Sub:{TENANT_SECRETS}" in [resource_text(r) for r in as_list(s["Resource"])]
    }
    assert readers == {"OutboundFunction", "WebhookFunction", "MediaFunction"}


def test_subscription_secrets_are_read_only_by_what_delivers_webhooks() -> None:
    readers = {
        function
        for function in FUNCTIONS
        for s in statements(function)
        if "secretsmanager:GetSecretValue" in as_list(s["Action"])
        and f"Fn::Sub:{SUBSCRIPTION_SECRETS}" in [resource_text(r) for r in as_list(s["Resource"])]
    }
    assert readers == {"SweeperFunction", "DeliverEventsFunction"}


def test_the_rest_api_stage_is_throttled_and_access_logged() -> None:
    api = RESOURCES["Api"]["Properties"]
    (setting,) = api["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    log = api["AccessLogSetting"]
    assert log["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    # request metadata only: nothing that can carry a key or a phone number
    for leaky in ("querystring", "header", "body", "authorization"):
        assert leaky not in log["Format"].lower()
    assert RESOURCES["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {
        "Ref": "LogRetentionDays"
    }


@pytest.mark.parametrize(
    ("function", "parameter", "condition"),
    [
        ("WebhookFunction", "WebhookReservedConcurrency", "ReservesWebhookConcurrency"),
        ("InboundFunction", "InboundReservedConcurrency", "ReservesInboundConcurrency"),
    ],
)
def test_stop_handling_functions_have_reserved_concurrency(
    function: str, parameter: str, condition: str
) -> None:
    reserved = FUNCTIONS[function]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}
    assert TEMPLATE["Parameters"][parameter]["Default"] > 0


def test_the_inbound_poller_never_outruns_its_reservation() -> None:
    queue = FUNCTIONS["InboundFunction"]["Events"]["Queue"]["Properties"]
    assert queue["ScalingConfig"] == {
        "Fn::If": [
            "ReservesInboundConcurrency",
            {"MaximumConcurrency": {"Ref": "InboundReservedConcurrency"}},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_no_deployed_stage_can_call_itself_local() -> None:
    # "local" unlocks `local:` secrets, the sandbox and custom provider URLs
    assert "local" not in TEMPLATE["Parameters"]["Stage"]["AllowedValues"]
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["TETHER_STAGE"] == {
        "Ref": "Stage"
    }


# -- the WebSocket API (issue 16) -----------------------------------------------------

CONNECTIONS_ENDPOINT = (
    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}"
    ":${WebSocketApi}/${Stage}/POST/@connections/*"
)


def test_the_websocket_stage_is_throttled_and_never_logs_the_key() -> None:
    stage = RESOURCES["WebSocketStage"]["Properties"]
    routes = stage["DefaultRouteSettings"]
    assert routes["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert routes["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    log = stage["AccessLogSettings"]
    assert log["DestinationArn"] == {"Fn::GetAtt": ["WebSocketAccessLogGroup", "Arn"]}
    # the API key travels in the query string: no line may hold it
    for leaky in ("querystring", "header", "body", "authorizer", "api_key"):
        assert leaky not in log["Format"].lower()


def test_only_connect_is_authorized_and_by_the_api_key_authorizer() -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert set(routes) == {"$connect", "$disconnect", "subscribe", "ping", "$default"}
    connect = routes["$connect"]
    assert connect["AuthorizationType"] == "CUSTOM"
    assert connect["AuthorizerId"] == {"Ref": "WebSocketAuthorizer"}
    authorizer = RESOURCES["WebSocketAuthorizer"]["Properties"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.api_key"]
    assert "WebSocketAuthorizerFunction.Arn" in authorizer["AuthorizerUri"]["Fn::Sub"]


def test_connections_are_managed_only_on_the_websocket_stage() -> None:
    """PostToConnection (execute-api:ManageConnections) only on this stage's
    @connections, and by no function but those that push."""
    for function in FUNCTIONS:
        for statement in statements(function):
            actions = as_list(statement["Action"])
            if not any(a.startswith("execute-api:") for a in actions):
                continue
            assert actions == ["execute-api:ManageConnections"], (function, actions)
            assert [resource_text(r) for r in as_list(statement["Resource"])] == [
                f"Fn::Sub:{CONNECTIONS_ENDPOINT}"
            ], function
            assert "WEBSOCKET_MANAGEMENT_URL" in FUNCTIONS[function]["Environment"]["Variables"]
