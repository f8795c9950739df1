"""template.yaml read into what the local stack runs: tables, queues, functions with
their environment, API routes and schedules. Reading the template itself is what keeps
the local stack and the deployed one from drifting apart. The routes are read from the
REST API as the SAM transform leaves it (`sam_transform`), which is what API Gateway
imports in AWS.

Intrinsic functions are resolved against local values: a parameter is its Default (or
absent: the variable is then left out), a queue's Ref is its moto URL, a table's its
name. Anything the local stack cannot resolve is absent, never a made-up value.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "tether-local"
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": STACK_NAME,
}
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# The OpenAPI key API Gateway reads as "any method" (ANY).
ANY_METHOD_KEY = "x-amazon-apigateway-any-method"
# What else an OpenAPI path item may hold besides its operations.
PATH_ITEM_FIELDS = ("parameters", "summary", "description", "servers", "$ref")


class TemplateError(Exception):
    """The template says something the local stack cannot run."""


class _Absent:
    """A value that resolves to nothing (AWS::NoValue, a parameter without a default)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


# -- YAML with CloudFormation's short tags -----------------------------------------


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":  # !GetAtt Queue.Arn is the short form of [Queue, Arn]
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data, short tags turned into their long forms."""
    with path.open() as file:
        document = yaml.load(file, Loader=_CfnLoader)  # noqa: S506 - SafeLoader plus tags
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources")
    return document


# -- what the local stack runs -------------------------------------------------------


@dataclass(frozen=True)
class Table:
    logical_id: str
    name: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    ttl_attribute: str | None
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    attributes: dict[str, str]  # SQS attributes, RedrivePolicy as AWS wants it (JSON)
    dead_letter_target: str | None  # the logical id of its DLQ


@dataclass(frozen=True)
class QueueSource:
    queue: str  # logical id
    batch_size: int
    reports_batch_item_failures: bool
    maximum_batching_window_seconds: int = 0


@dataclass(frozen=True)
class BucketSource:
    """An S3 event notification to a function (SAM's S3 event): ObjectCreated in the
    bucket, under `prefix`."""

    bucket: str  # logical id
    prefix: str = ""


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    name: str


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    enabled: bool = True


@dataclass(frozen=True)
class Route:
    """One method and path of the REST API: a function's, or a mock integration's."""

    method: str  # an HTTP method, or ANY
    path: str  # as in the template: /webhooks/{provider}/{account_id}, /v1/{proxy+}
    function: str | None  # logical id; None for a mock integration
    mock_status: int = 200
    mock_body: str = ""


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    queue_sources: list[QueueSource] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    bucket_sources: list[BucketSource] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The short name used on the command line: the code folder (webhook, inbound)."""
        return Path(self.code_uri).name

    @property
    def module_path(self) -> Path:
        return Path(self.code_uri) / f"{self.handler.rsplit('.', 1)[0]}.py"

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule of a bus, with its targets' ARNs (moto delivers to SQS)."""

    logical_id: str
    bus: str  # the bus's name
    pattern: dict[str, Any]
    targets: list[tuple[str, str]]  # (id, arn)


@dataclass(frozen=True)
class WebSocketRoute:
    """One route of a WebSocket API: its key ($connect, subscribe...), the function its
    proxy integration calls, whether it answers (a route response: two-way), and the
    REQUEST authorizer in front of it ($connect only)."""

    route_key: str
    function: str | None  # logical id; None for a route without an integration
    two_way: bool = False
    authorizer: str | None = None  # the authorizer's function, a logical id
    identity_sources: tuple[str, ...] = ()  # route.request.querystring.api_key, ...


@dataclass(frozen=True)
class WebSocketApi:
    logical_id: str
    route_selection_expression: str  # $request.body.<field>
    routes: dict[str, WebSocketRoute]


@dataclass(frozen=True)
class Stack:
    parameters: dict[str, str]  # parameters with a default (or an override)
    tables: list[Table]
    queues: list[Queue]
    functions: list[Function]
    routes: list[Route]
    stage: str
    buses: list[str] = field(default_factory=list)  # EventBridge buses' names
    rules: list[EventRule] = field(default_factory=list)
    websocket: WebSocketApi | None = None
    buckets: list[Bucket] = field(default_factory=list)  # S3 buckets, made in moto

    def function(self, name: str) -> Function:
        for function in self.functions:
            if name in (function.name, function.logical_id):
                return function
        known = ", ".join(sorted(f.name for f in self.functions))
        raise TemplateError(f"no function {name!r} in the template (known: {known})")

    def queue(self, logical_id: str) -> Queue:
        return next(q for q in self.queues if q.logical_id == logical_id)

    def bucket(self, logical_id: str) -> Bucket:
        return next(b for b in self.buckets if b.logical_id == logical_id)


def read_stack(
    document: Mapping[str, Any],
    queue_url: Callable[[str], str],
    parameter_overrides: Mapping[str, str] | None = None,
) -> Stack:
    """Everything the local stack runs, with intrinsics resolved. `queue_url` names the
    URL of a queue from its name (moto's URLs hold the server's port)."""
    resources: dict[str, dict[str, Any]] = document["Resources"]
    parameters = {
        name: str(spec["Default"])
        for name, spec in (document.get("Parameters") or {}).items()
        if isinstance(spec, dict) and "Default" in spec
    }
    parameters.update(parameter_overrides or {})
    resolver = _Resolver(document, parameters, queue_url)
    globals_ = (document.get("Globals") or {}).get("Function") or {}
    tables, queues, functions = [], [], []
    buckets: list[Bucket] = []
    buses: list[str] = []
    rules: list[EventRule] = []
    routes: list[Route] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::DynamoDB::Table":
            tables.append(_table(logical_id, props, resolver))
        elif kind == "AWS::SQS::Queue":
            queues.append(_queue(logical_id, props, resolver))
        elif kind == "AWS::Serverless::Function":
            functions.append(_function(logical_id, props, globals_, resolver))
        elif kind == "AWS::S3::Bucket":
            buckets.append(Bucket(logical_id, str(resolver.ref(logical_id))))
        elif kind == "AWS::Events::EventBus":
            buses.append(str(resolver.ref(logical_id)))
        elif kind == "AWS::Events::Rule" and "EventBusName" in props:
            rules.append(
                EventRule(
                    logical_id,
                    str(resolver.resolve(props["EventBusName"])),
                    resolver.resolve(props["EventPattern"]),
                    [(t["Id"], str(resolver.resolve(t["Arn"]))) for t in props.get("Targets", [])],
                )
            )
    if any(r.get("Type") in _API_SOURCES for r in _api_candidates(resources)):
        routes = api_routes(sam_transform(document))
    return Stack(
        parameters=parameters,
        tables=tables,
        queues=queues,
        functions=functions,
        routes=routes,
        stage=parameters.get("Stage", "dev"),
        buses=buses,
        rules=rules,
        websocket=websocket_api(resources),
        buckets=buckets,
    )


def local_name(logical_id: str) -> str:
    """A physical name as CloudFormation would make one (stack-LogicalId), minus the
    random suffix, which is useless locally."""
    return f"{STACK_NAME}-{logical_id}"


def _table(logical_id: str, props: Mapping[str, Any], resolver: _Resolver) -> Table:
    ttl = resolver.resolve(props.get("TimeToLiveSpecification")) or {}
    return Table(
        logical_id=logical_id,
        name=str(resolver.resolve(props.get("TableName")) or local_name(logical_id)),
        key_schema=resolver.resolve(props["KeySchema"]),
        attribute_definitions=resolver.resolve(props["AttributeDefinitions"]),
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
        global_secondary_indexes=resolver.resolve(props.get("GlobalSecondaryIndexes") or []),
    )


# Queue properties that are SQS attributes of the same name (CreateQueue takes strings).
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _queue(logical_id: str, props: Mapping[str, Any], resolver: _Resolver) -> Queue:
    attributes = {
        name: _attribute_text(resolver.resolve(props[name]))
        for name in _QUEUE_ATTRIBUTES
        if name in props
    }
    dead_letter_target = None
    redrive = props.get("RedrivePolicy")
    if redrive:
        target = redrive.get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            dead_letter_target = str(target["Fn::GetAtt"][0])
        attributes["RedrivePolicy"] = json.dumps(resolver.resolve(redrive))
    name = str(resolver.resolve(props.get("QueueName")) or local_name(logical_id))
    if attributes.get("FifoQueue") == "true" and not name.endswith(".fifo"):
        name += ".fifo"
    return Queue(logical_id, name, attributes, dead_letter_target)


def _attribute_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _function(
    logical_id: str,
    props: Mapping[str, Any],
    globals_: Mapping[str, Any],
    resolver: _Resolver,
) -> Function:
    def prop(name: str, default: Any = None) -> Any:
        return props.get(name, globals_.get(name, default))

    environment: dict[str, str] = {}
    for source in (globals_, props):  # the function's own variables win
        variables = (source.get("Environment") or {}).get("Variables") or {}
        for name, value in variables.items():
            resolved = resolver.resolve(value)
            if resolved is ABSENT or resolved is None:
                environment.pop(name, None)
            else:
                environment[name] = _attribute_text(resolved)
    queue_sources, schedules, bucket_sources = [], [], []
    for event_name, event in (props.get("Events") or {}).items():
        kind, event_props = event.get("Type"), event.get("Properties") or {}
        if kind == "SQS":
            queue = event_props["Queue"]
            if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
                raise TemplateError(f"{logical_id}.{event_name}: Queue must be !GetAtt X.Arn")
            queue_sources.append(
                QueueSource(
                    queue=str(queue["Fn::GetAtt"][0]),
                    batch_size=int(event_props.get("BatchSize", 10)),
                    reports_batch_item_failures="ReportBatchItemFailures"
                    in (event_props.get("FunctionResponseTypes") or []),
                    maximum_batching_window_seconds=int(
                        event_props.get("MaximumBatchingWindowInSeconds", 0)
                    ),
                )
            )
        elif kind == "S3":
            bucket = event_props["Bucket"]
            if not (isinstance(bucket, dict) and "Ref" in bucket):
                raise TemplateError(f"{logical_id}.{event_name}: Bucket must be !Ref X")
            rules = ((event_props.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
            prefix = next((str(r["Value"]) for r in rules if r.get("Name") == "prefix"), "")
            bucket_sources.append(BucketSource(str(bucket["Ref"]), prefix))
        elif kind in ("Schedule", "ScheduleV2"):
            expression = event_props.get("Schedule") or event_props.get("ScheduleExpression")
            enabled = event_props.get("Enabled", True) and event_props.get("State") != "DISABLED"
            schedules.append(Schedule(f"{logical_id}{event_name}", str(expression), bool(enabled)))
    return Function(
        logical_id=logical_id,
        code_uri=str(prop("CodeUri")).rstrip("/"),
        handler=str(prop("Handler")),
        timeout=int(prop("Timeout", 3)),
        memory_size=int(prop("MemorySize", 128)),
        environment=environment,
        queue_sources=queue_sources,
        schedules=schedules,
        bucket_sources=bucket_sources,
    )


# -- the REST API as SAM leaves it --------------------------------------------------

# Resources that make a REST API in the transform: an explicit one, or the implicit
# one SAM makes from functions' Api events.
_API_SOURCES = ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")
# An integration URI names its function as ${Function.Arn} (or ${Function.Alias}).
_OPENAPI_METHODS = frozenset(method.lower() for method in HTTP_METHODS)
_FUNCTION_IN_URI = re.compile(r"\$\{([A-Za-z0-9]+)\.(?:Arn|Alias)\}")


def _api_candidates(resources: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = [r for r in resources.values() if r.get("Type") in _API_SOURCES]
    for resource in resources.values():
        events = (resource.get("Properties") or {}).get("Events") or {}
        if any(event.get("Type") == "Api" for event in events.values()):
            found.append({"Type": "AWS::Serverless::Api"})  # SAM's implicit API
    return found


def sam_transform(document: Mapping[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation gets it after `Transform: AWS::Serverless`, made
    offline by the same translator (samtranslator) `sam deploy`'s transform runs. Local
    code paths become a placeholder S3 URI, as `sam validate` does: the translator wants
    one and nothing read here depends on it."""
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(dict(document))
    placeholder = "s3://tether-local/code.zip"
    for resource in (sam.get("Resources") or {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "ImageUri" not in props:
            props["CodeUri"] = placeholder
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = placeholder
    function_globals = (sam.get("Globals") or {}).get("Function") or {}
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = placeholder
    translator = Translator(
        {}, Parser(), plugins=[], boto_session=boto3.session.Session(region_name=REGION)
    )
    quiet = logging.getLogger("samtranslator")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # feature-toggle chatter, not the template's fault
    try:
        transformed: dict[str, Any] = translator.translate(
            sam, parameter_values={}, get_managed_policy_map=dict
        )
        return transformed
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in error.causes)
        raise TemplateError(f"the SAM transform refused the template: {causes}") from error
    finally:
        quiet.setLevel(level)


def api_routes(transformed: Mapping[str, Any]) -> list[Route]:
    """Every method of every REST API body in a transformed template, with the function
    its proxy integration calls or the answer of its mock integration. A key that is not
    an OpenAPI method (SAM's merged `any`, say) is no route: API Gateway maps nothing
    for it either."""
    routes = []
    for logical_id, resource in (transformed.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::ApiGateway::RestApi":
            continue
        body = (resource.get("Properties") or {}).get("Body") or {}
        for path, operations in (body.get("paths") or {}).items():
            for key, operation in (operations or {}).items():
                if key == ANY_METHOD_KEY:
                    method = "ANY"
                elif key in _OPENAPI_METHODS:
                    method = key.upper()
                else:
                    continue
                integration = (operation or {}).get("x-amazon-apigateway-integration") or {}
                routes.append(_integration_route(logical_id, method, str(path), integration))
    return routes


def _integration_route(api: str, method: str, path: str, integration: Mapping[str, Any]) -> Route:
    kind = str(integration.get("type") or "").lower()
    if kind == "mock":
        response = (integration.get("responses") or {}).get("default") or {}
        templates = response.get("responseTemplates") or {}
        return Route(
            method,
            path,
            None,
            mock_status=int(response.get("statusCode", 200)),
            mock_body=str(templates.get("application/json", "")),
        )
    if kind == "aws_proxy":
        uri = (integration.get("uri") or {}).get("Fn::Sub")
        text = uri[0] if isinstance(uri, list) else uri
        found = _FUNCTION_IN_URI.search(str(text or ""))
        if found:
            return Route(method, path, found.group(1))
    raise TemplateError(
        f"{api} {method} {path}: the local gateway serves Lambda proxy integrations"
        f" (uri !Sub ...${{Function.Arn}}...) and mocks, not {dict(integration)!r}"
    )


# -- the WebSocket API (AWS::ApiGatewayV2, which SAM leaves as it is) ---------------


def websocket_api(resources: Mapping[str, Any]) -> WebSocketApi | None:
    """The template's WebSocket API with its routes, each with its integration's
    function, its route response and its authorizer; None when there is none. More
    than one is more than the local stack serves."""
    apis = [
        name
        for name, r in resources.items()
        if r.get("Type") == "AWS::ApiGatewayV2::Api"
        and (r.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
    ]
    if not apis:
        return None
    if len(apis) > 1:
        raise TemplateError(f"the local stack serves one WebSocket API, not {sorted(apis)}")
    (api,) = apis

    def of_api(kind: str) -> dict[str, Mapping[str, Any]]:
        return {
            name: r.get("Properties") or {}
            for name, r in resources.items()
            if r.get("Type") == kind and (r.get("Properties") or {}).get("ApiId") == {"Ref": api}
        }

    integrations = {
        name: _function_in(props.get("IntegrationUri"), f"{name}.IntegrationUri")
        for name, props in of_api("AWS::ApiGatewayV2::Integration").items()
        if props.get("IntegrationType") == "AWS_PROXY"
    }
    authorizers = {name: props for name, props in of_api("AWS::ApiGatewayV2::Authorizer").items()}
    answered = {
        str((props.get("RouteId") or {}).get("Ref"))
        for props in of_api("AWS::ApiGatewayV2::RouteResponse").values()
        if props.get("RouteResponseKey") == "$default"
    }
    routes: dict[str, WebSocketRoute] = {}
    for name, props in of_api("AWS::ApiGatewayV2::Route").items():
        key = str(props["RouteKey"])
        target = props.get("Target")
        function = None
        if target is not None:
            text = target.get("Fn::Sub") if isinstance(target, dict) else None
            found = re.fullmatch(r"integrations/\$\{(\w+)\}", str(text or ""))
            if found is None or found.group(1) not in integrations:
                raise TemplateError(f"{name}: Target must be !Sub integrations/${{Integration}}")
            function = integrations[found.group(1)]
        authorizer: str | None = None
        sources: tuple[str, ...] = ()
        if props.get("AuthorizationType") == "CUSTOM":
            auth_name = str((props.get("AuthorizerId") or {}).get("Ref"))
            auth = authorizers.get(auth_name)
            if auth is None or auth.get("AuthorizerType") != "REQUEST":
                raise TemplateError(f"{name}: the local stack serves REQUEST authorizers only")
            authorizer = _function_in(auth.get("AuthorizerUri"), f"{auth_name}.AuthorizerUri")
            sources = tuple(str(s) for s in auth.get("IdentitySource") or ())
        routes[key] = WebSocketRoute(
            route_key=key,
            function=function,
            two_way=name in answered and props.get("RouteResponseSelectionExpression") is not None,
            authorizer=authorizer,
            identity_sources=sources,
        )
    expression = str(resources[api]["Properties"].get("RouteSelectionExpression", ""))
    if not re.fullmatch(r"\$request\.body\.\w+", expression):
        raise TemplateError(f"{api}: the local stack selects routes by $request.body.<field>")
    return WebSocketApi(api, expression, routes)


def _function_in(uri: Any, where: str) -> str:
    text = uri.get("Fn::Sub") if isinstance(uri, dict) else None
    found = _FUNCTION_IN_URI.search(str(text or ""))
    if found is None:
        raise TemplateError(f"{where}: a Lambda invocation URI (!Sub ...${{Function.Arn}}...)")
    return found.group(1)


# -- intrinsic functions -----------------------------------------------------------

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class _Resolver:
    def __init__(
        self,
        document: Mapping[str, Any],
        parameters: Mapping[str, str],
        queue_url: Callable[[str], str],
    ) -> None:
        self._resources: Mapping[str, Any] = document["Resources"]
        self._conditions: Mapping[str, Any] = document.get("Conditions") or {}
        self._parameters = parameters
        self._queue_url = queue_url

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not ABSENT]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref":
                return self.ref(str(argument))
            if key == "Fn::GetAtt":
                return self.get_att(str(argument[0]), str(argument[1]))
            if key == "Fn::Sub":
                return self.sub(argument)
            if key == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Join":
                separator, items = argument
                parts = self.resolve(items)
                return ABSENT if ABSENT in parts else separator.join(str(p) for p in parts)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if key.startswith("Fn::"):
                return ABSENT  # no local meaning (Fn::ImportValue, Fn::GetAZs...)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not ABSENT}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return ABSENT
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self._parameters:
            return self._parameters[name]
        resource = self._resources.get(name)
        if resource is None:
            return ABSENT  # a parameter without a default: no local value
        kind = resource.get("Type")
        if kind == "AWS::SQS::Queue":
            return self._queue_url(self._physical_name(name))
        if kind in ("AWS::DynamoDB::Table", "AWS::Serverless::Function", "AWS::S3::Bucket"):
            return self._physical_name(name)
        if kind == "AWS::Events::EventBus":
            props = resource.get("Properties") or {}
            return str(self.resolve(props["Name"])) if "Name" in props else local_name(name)
        if kind == "AWS::S3::Bucket":
            props = resource.get("Properties") or {}
            # bucket names are lower case (CloudFormation lowers the ones it makes)
            named = props.get("BucketName")
            return str(self.resolve(named)) if named else local_name(name).lower()
        return f"local-{name}"

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self._resources.get(name) or {}
        kind = resource.get("Type")
        physical = self._physical_name(name)
        if kind == "AWS::SQS::Queue":
            if attribute == "Arn":
                return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{physical}"
            if attribute == "QueueName":
                return physical
            if attribute == "QueueUrl":
                return self._queue_url(physical)
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{physical}"
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{physical}"
        if kind == "AWS::Serverless::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{physical}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(name)}"
        if kind == "AWS::Events::EventBus" and attribute == "Arn":
            return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{self.ref(name)}"
        return ABSENT

    def sub(self, argument: Any) -> Any:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(value) for name, value in variables.items()}
        absent = False

        def replace(match: re.Match[str]) -> str:
            nonlocal absent
            name = match.group(1)
            if name in values:
                value = values[name]
            elif "." in name:
                value = self.get_att(*name.split(".", 1))
            else:
                value = self.ref(name)
            if value is ABSENT:
                absent = True
                return ""
            return str(value)

        result = _SUB_VARIABLE.sub(replace, text).replace("${!", "${")
        return ABSENT if absent else result

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self._conditions[name]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            (key, argument), *_ = expression.items()
            if key == "Fn::Equals":
                left, right = (self._evaluate(a) for a in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._evaluate(argument[0])
            if key == "Fn::And":
                return all(self._evaluate(a) for a in argument)
            if key == "Fn::Or":
                return any(self._evaluate(a) for a in argument)
            if key == "Condition":
                return self.condition(str(argument))
        value = self.resolve(expression)
        return "" if value is ABSENT else value

    def _physical_name(self, logical_id: str) -> str:
        props = (self._resources.get(logical_id) or {}).get("Properties") or {}
        for key in ("QueueName", "TableName", "FunctionName", "BucketName"):
            if key in props:
                return str(self.resolve(props[key]))
        name = local_name(logical_id)
        if str(props.get("FifoQueue")).lower() == "true":
            name += ".fifo"
        return name
