"""The REST API as AWS gets it: template.yaml through the SAM translator (the transform
`sam deploy` runs), checked against the routes the api and webhook functions' code
serves. The gateway must hand every one of them to its function, and nothing else."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import pytest

from tether.config import PROJECT_ROOT
from tether.webhooks.request import WEBHOOK_METHOD
from tether_dev.local.deploy_check import code_routes, concrete
from tether_dev.local.events import match_route
from tether_dev.local.template import (
    ACCOUNT_ID,
    ANY_METHOD_KEY,
    HTTP_METHODS,
    PATH_ITEM_FIELDS,
    PSEUDO_PARAMETERS,
    REGION,
    Route,
    api_routes,
    load_template,
    sam_transform,
)

REST_API_ID = "a1b2c3d4e5"
STAGE = "dev"


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return sam_transform(load_template(PROJECT_ROOT / "template.yaml"))


@pytest.fixture(scope="module")
def body(transformed: dict[str, Any]) -> dict[str, Any]:
    apis = {
        name: resource["Properties"]["Body"]
        for name, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::ApiGateway::RestApi"
    }
    assert list(apis) == ["Api"], "one REST API, the template's own (no implicit one)"
    body: dict[str, Any] = apis["Api"]
    return body


@pytest.fixture(scope="module")
def routes(transformed: dict[str, Any]) -> list[Route]:
    return api_routes(transformed)


def test_every_path_holds_only_methods_api_gateway_reads_each_with_an_integration(
    body: dict[str, Any],
) -> None:
    known = {method.lower() for method in HTTP_METHODS} | {ANY_METHOD_KEY}
    for path, item in body["paths"].items():
        methods = set(item) - set(PATH_ITEM_FIELDS)
        assert methods, f"{path} has no method"
        assert methods <= known, f"{path}: {sorted(methods - known)} are not methods"
        for method in methods:
            integration = item[method].get("x-amazon-apigateway-integration")
            assert integration, f"{method} {path} has no integration"


def test_every_route_the_code_serves_reaches_its_function(routes: list[Route]) -> None:
    for function, method, path in code_routes():
        match = match_route(routes, method, concrete(path))
        assert match is not None, f"{method} {path} ({function}): API Gateway answers 403"
        assert match.route.function == function, f"{method} {path} goes to {match.route}"
    webhook = match_route(routes, WEBHOOK_METHOD, "/webhooks/twilio/AC123")
    assert webhook is not None
    # the names WebhookRequest reads its provider and account from
    assert webhook.path_parameters == {"provider": "twilio", "account_id": "AC123"}


def test_the_gateway_maps_no_method_the_code_does_not_serve(routes: list[Route]) -> None:
    served = code_routes()
    for route in routes:
        if route.function is None:
            continue  # a mock: API Gateway answers it itself
        assert route.method != "ANY", f"{route.path}: ANY maps methods no code serves"
        mine = [Route(route.method, route.path, route.function)]
        assert any(
            function == route.function
            and method == route.method
            and match_route(mine, method, concrete(path)) is not None
            for function, method, path in served
        ), f"{route.method} {route.path} → {route.function}, which serves no such route"


def test_api_gateway_may_invoke_each_function_on_each_of_its_routes(
    transformed: dict[str, Any], routes: list[Route]
) -> None:
    permissions = [
        resource["Properties"]
        for resource in transformed["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Permission"
        and resource["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    for route in routes:
        if route.function is None:
            continue
        # what API Gateway presents as the source of a call on this route
        source = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{REST_API_ID}/{STAGE}/"
            f"{route.method}{concrete(route.path)}"
        )
        allowed = [
            _source_arn(p["SourceArn"])
            for p in permissions
            if p["FunctionName"]
            in ({"Ref": route.function}, {"Fn::GetAtt": [route.function, "Arn"]})
            and p["Action"] == "lambda:InvokeFunction"
        ]
        assert any(fnmatch.fnmatchcase(source, pattern) for pattern in allowed), (
            f"{route.method} {route.path}: no permission lets API Gateway call {route.function}"
            f" (patterns {allowed})"
        )


def _source_arn(value: Any) -> str:
    """A permission's SourceArn with the stack's values in (the API's id for ${Api})."""
    text, variables = (
        (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
    )
    values = {**PSEUDO_PARAMETERS, "Api": REST_API_ID, **{k: "*" for k in variables}}
    return re.sub(r"\$\{([^}]+)\}", lambda m: str(values[m.group(1)]), text)


def test_health_is_answered_by_api_gateway_itself_with_its_body(
    body: dict[str, Any], routes: list[Route]
) -> None:
    match = match_route(routes, "GET", "/v1/health")
    assert match is not None
    health = match.route
    assert (health.function, health.mock_status, health.mock_body) == (None, 200, '{"status":"ok"}')
    operation = body["paths"]["/v1/health"]["get"]
    integration = operation["x-amazon-apigateway-integration"]
    # a mock answers only what its request template selects, through a declared response
    assert integration["requestTemplates"]["application/json"] == '{"statusCode": 200}'
    assert "200" in operation["responses"]
    assert match_route(routes, "DELETE", "/v1/health") is None
