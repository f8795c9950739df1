"""template.yaml as the local stack reads it: what it runs must be what SAM deploys."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tether.config import PROJECT_ROOT, DatabaseSettings
from tether_dev.local.runtime import environment_for, local_environment
from tether_dev.local.stack import local_parameters
from tether_dev.local.template import Stack, TemplateError, load_template, read_stack


def url(name: str) -> str:
    return f"http://moto/123456789012/{name}"


@pytest.fixture(scope="module")
def stack() -> Stack:
    return read_stack(load_template(PROJECT_ROOT / "template.yaml"), url)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_every_function_of_the_template_is_found_with_its_handler_module(stack: Stack) -> None:
    for function in stack.functions:
        assert (PROJECT_ROOT / function.module_path).is_file(), function.logical_id
        assert function.handler_name == "handler"
    assert stack.function("webhook").logical_id == "WebhookFunction"
    assert stack.function("WebhookFunction").timeout == 10
    with pytest.raises(TemplateError, match="no function 'nope'"):
        stack.function("nope")


def test_queues_keep_their_redrive_policy_to_their_dead_letter_queue(stack: Stack) -> None:
    inbound = stack.queue("InboundQueue")
    assert inbound.dead_letter_target == "InboundDeadLetterQueue"
    assert inbound.attributes["VisibilityTimeout"] == "180"
    assert json.loads(inbound.attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:tether-local-InboundDeadLetterQueue",
        "maxReceiveCount": 5,
    }
    assert stack.queue("InboundDeadLetterQueue").dead_letter_target is None


def test_queue_triggers_keep_batch_size_and_partial_failures(stack: Stack) -> None:
    sources = {f.name: f.queue_sources for f in stack.functions if f.queue_sources}
    assert {
        name: [(s.queue, s.batch_size, s.reports_batch_item_failures) for s in found]
        for name, found in sources.items()
    } == {
        "deliver_events": [("EventsQueue", 10, True)],
        "inbound": [("InboundQueue", 10, True)],
        "launch": [("LaunchQueue", 1, True)],
        "media": [("MediaQueue", 1, True)],
        "outbound": [("OutboundQueue", 1, True)],
    }


def test_environment_resolves_to_local_resources_and_drops_what_has_no_local_value(
    stack: Stack,
) -> None:
    webhook = stack.function("webhook").environment
    assert webhook["INBOUND_QUEUE_URL"] == url("tether-local-InboundQueue")
    assert webhook["IDEMPOTENCY_TABLE_NAME"] == "tether-local-IdempotencyTable"
    assert webhook["POWERTOOLS_LOG_LEVEL"] == "INFO"  # !Ref LogLevel's default
    # parameters without a default (secret ARNs, the proxy endpoint) are AWS-only
    assert "DB_SECRET_ARN" not in webhook
    assert "DB_HOST" not in webhook


def test_each_function_runs_with_its_own_variables_and_the_local_ones(stack: Stack) -> None:
    base = local_environment(aws_endpoint_url="http://moto", database_url="db")
    declared = {name for f in stack.functions for name in f.environment}
    wanted, unwanted = environment_for(stack.function("inbound"), base, declared)
    assert wanted["AWS_ENDPOINT_URL"] == "http://moto"
    assert wanted["DATABASE_URL"] == "db"
    assert wanted["OUTBOUND_QUEUE_URL"] == url("tether-local-OutboundQueue")
    # the webhook's variables are not the inbound function's, in Lambda or here
    assert {"INBOUND_QUEUE_URL", "IDEMPOTENCY_TABLE_NAME"} <= unwanted
    assert not unwanted & wanted.keys()


def test_routes_are_the_transformed_api_body_with_its_mocks(stack: Stack) -> None:
    routes = {(r.method, r.path): r for r in stack.routes}
    assert routes[("POST", "/webhooks/{provider}/{account_id}")].function == "WebhookFunction"
    assert {m for m, p in routes if p == "/v1/{proxy+}"} == {
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
    }
    health = routes[("GET", "/v1/health")]
    assert (health.function, health.mock_status, health.mock_body) == (None, 200, '{"status":"ok"}')


def test_function_api_events_are_read_through_the_transform_too(tmp_path: Path) -> None:
    document = load_template(
        write(
            tmp_path,
            """
            Transform: AWS::Serverless-2016-10-31
            Resources:
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: functions/fn/
                  Handler: app.handler
                  Runtime: python3.12
                  Events:
                    Get: {Type: Api, Properties: {Path: "/things/{id}", Method: get}}
                    Any: {Type: Api, Properties: {Path: /all, Method: any}}
            """,
        )
    )
    routes = read_stack(document, url).routes
    assert sorted((r.method, r.path, r.function) for r in routes) == [
        ("ANY", "/all", "Fn"),
        ("GET", "/things/{id}", "Fn"),
    ]


def test_a_template_the_transform_refuses_is_refused(tmp_path: Path) -> None:
    document = load_template(
        write(
            tmp_path,
            """
            Transform: AWS::Serverless-2016-10-31
            Resources:
              Api:
                Type: AWS::Serverless::Api
                Properties: {}
            """,
        )
    )
    with pytest.raises(TemplateError, match="SAM transform refused"):
        read_stack(document, url)


def test_schedules_are_read_with_their_rate(stack: Stack) -> None:
    found = {f.name: [s.expression for s in f.schedules] for f in stack.functions if f.schedules}
    assert found["pool_release"] == ["rate(5 minutes)"]
    assert found["sweeper"] == ["rate(1 minute)"]


def test_intrinsics_in_their_short_and_long_forms(tmp_path: Path) -> None:
    document = load_template(
        write(
            tmp_path,
            """
            Parameters:
              Stage: {Type: String, Default: dev}
              Secret: {Type: String}
            Conditions:
              IsProd: !Equals [!Ref Stage, prod]
            Resources:
              Jobs:
                Type: AWS::SQS::Queue
                Properties: {FifoQueue: true, VisibilityTimeout: 60}
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: functions/fn/
                  Handler: app.handler
                  Environment:
                    Variables:
                      A: !Sub "${AWS::Region}-${Stage}-${Jobs.QueueName}"
                      B: !Sub ["${X}/${!Literal}", {X: !GetAtt Jobs.Arn}]
                      C: !If [IsProd, big, small]
                      D: !Ref Secret
                      E: {"Fn::Join": ["-", [a, !Ref Stage]]}
                      F: !Ref Jobs
                      G: !Select [1, [x, y]]
            """,
        )
    )
    function = read_stack(document, url, {"Stage": "prod"}).functions[0]
    assert function.environment == {
        "A": "us-east-1-prod-tether-local-Jobs.fifo",
        "B": "arn:aws:sqs:us-east-1:123456789012:tether-local-Jobs.fifo/${Literal}",
        "C": "big",
        "E": "a-prod",
        "F": url("tether-local-Jobs.fifo"),
        "G": "y",
    }
    assert (function.timeout, function.memory_size) == (3, 128)  # SAM's defaults


def test_a_template_without_resources_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no Resources"):
        load_template(write(tmp_path, "Parameters: {}\n"))


def test_functions_get_rds_proxys_tls_mode_in_aws_and_the_local_servers_here(
    stack: Stack,
) -> None:
    assert stack.function("api").environment["DB_SSLMODE"] == "require"  # the template's
    document = load_template(PROJECT_ROOT / "template.yaml")
    for settings, mode in [
        (DatabaseSettings(database_url="postgresql://localhost/tether"), "prefer"),
        (
            DatabaseSettings(database_url="postgresql://localhost/tether", db_sslmode="disable"),
            "disable",
        ),
    ]:
        local = read_stack(document, url, local_parameters(settings, []))
        assert {f.environment["DB_SSLMODE"] for f in local.functions} == {mode}


def test_the_websocket_api_is_read_with_its_routes_authorizer_and_route_responses(
    stack: Stack,
) -> None:
    api = stack.websocket
    assert api is not None
    assert api.route_selection_expression == "$request.body.action"
    assert set(api.routes) == {"$connect", "$disconnect", "subscribe", "ping", "$default"}
    assert {r.function for r in api.routes.values()} == {"WebSocketFunction"}
    connect = api.routes["$connect"]
    assert connect.authorizer == "WebSocketAuthorizerFunction"
    assert connect.identity_sources == ("route.request.querystring.api_key",)
    assert not any(r.authorizer for k, r in api.routes.items() if k != "$connect")
    # the routes that answer are two-way; $connect and $disconnect answer nothing
    assert {k for k, r in api.routes.items() if r.two_way} == {"subscribe", "ping", "$default"}
    connections = next(t for t in stack.tables if t.logical_id == "ConnectionsTable")
    assert connections.ttl_attribute == "expires_at"
    assert [i["IndexName"] for i in connections.global_secondary_indexes] == ["by_tenant"]


def test_the_websocket_functions_get_the_local_connections_endpoint(stack: Stack) -> None:
    base = local_environment(
        aws_endpoint_url="http://moto", database_url="db", websocket_management_url="http://ws"
    )
    declared = {name for f in stack.functions for name in f.environment}
    wanted, _ = environment_for(stack.function("websocket"), base, declared)
    assert wanted["CONNECTIONS_TABLE_NAME"] == "tether-local-ConnectionsTable"
    assert wanted["WEBSOCKET_MANAGEMENT_URL"] == "http://ws"


def test_a_websocket_route_without_a_lambda_integration_is_refused(tmp_path: Path) -> None:
    document = load_template(
        write(
            tmp_path,
            """
            Resources:
              Ws:
                Type: AWS::ApiGatewayV2::Api
                Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
              Mock:
                Type: AWS::ApiGatewayV2::Integration
                Properties: {ApiId: !Ref Ws, IntegrationType: MOCK}
              Route:
                Type: AWS::ApiGatewayV2::Route
                Properties: {ApiId: !Ref Ws, RouteKey: $default, Target: !Sub "integrations/${Mock}"}
            """,
        )
    )
    with pytest.raises(TemplateError, match="Target"):
        read_stack(document, url)
