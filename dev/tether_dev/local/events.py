"""The events AWS hands a function, built locally: the REST API (v1) proxy event from an
HTTP request, an SQS batch from received messages, EventBridge's scheduled event; and
the routing and rate expressions they depend on. Pure: no sockets, no clocks read."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from tether_dev.local.template import ACCOUNT_ID, REGION, Route

# Media types API Gateway hands over as text; anything else is base64 (binary).
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|x-www-form-urlencoded|javascript)|.*\+(json|xml))$"
)


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


def match_route(routes: Sequence[Route], method: str, path: str) -> RouteMatch | None:
    """The route API Gateway would pick. The resource comes first: a literal segment
    beats a {param}, which beats a {proxy+}; then the method on that resource, mapped
    exactly or ANY. A resource without the method is API Gateway's 403 (None), even
    where a {proxy+} would take the path."""
    method = method.upper()
    resources: dict[str, tuple[tuple[int, ...], dict[str, str]]] = {}
    for route in routes:
        parameters = _match_path(route.path, path)
        if parameters is not None:
            resources[route.path] = (_specificity(route.path), parameters)
    if not resources:
        return None
    resource = max(resources, key=lambda template: resources[template][0])
    on_resource = {route.method: route for route in routes if route.path == resource}
    chosen = on_resource.get(method) or on_resource.get("ANY")
    return RouteMatch(chosen, resources[resource][1]) if chosen else None


def _segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


def _match_path(template: str, path: str) -> dict[str, str] | None:
    wanted, given = _segments(template), _segments(path)
    parameters: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = given[index:]
            if not rest:
                return None
            parameters[segment[1:-2]] = "/".join(rest)
            return parameters
        if index >= len(given):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            parameters[segment[1:-1]] = given[index]
        elif segment != given[index]:
            return None
    return parameters if len(wanted) == len(given) else None


def _specificity(template: str) -> tuple[int, ...]:
    # per segment: 2 literal, 1 parameter, 0 greedy; compared left to right
    return tuple(
        0 if s.endswith("+}") else 1 if s.startswith("{") else 2 for s in _segments(template)
    )


def proxy_event(
    *,
    route: RouteMatch,
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    stage: str,
    source_ip: str,
    now: datetime,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The REST API proxy event for one request, as API Gateway builds it: headers and
    query both single-valued (last wins) and multi-valued, the body as text or base64."""
    header_pairs = list(headers)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query_pairs = parse_qsl(query, keep_blank_values=True)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    content_type = next(
        (value for name, value in header_pairs if name.lower() == "content-type"), ""
    )
    text_body = _is_text(content_type)
    encoded_body: str | None
    if not body:
        encoded_body, is_base64 = None, False
    elif text_body:
        try:
            encoded_body, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            encoded_body, is_base64 = base64.b64encode(body).decode(), True
    else:
        encoded_body, is_base64 = base64.b64encode(body).decode(), True
    request_id = request_id or str(uuid.uuid4())
    user_agent = single_headers.get("User-Agent") or _header(header_pairs, "user-agent")
    resource = route.route.path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": route.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": _header(header_pairs, "host") or "127.0.0.1",
            "domainPrefix": "local",
            "extendedRequestId": request_id,
            "httpMethod": method.upper(),
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            # the path as called: served at the root locally, like `sam local start-api`
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": encoded_body,
        "isBase64Encoded": is_base64,
    }


def _header(pairs: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in pairs if key.lower() == name), None)


def _is_text(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return not media_type or bool(_TEXT_TYPES.match(media_type))


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_answer(result: Any) -> HttpAnswer:
    """A proxy integration's result as HTTP. Like API Gateway, a result that is not a
    valid proxy response is a 502."""
    if not isinstance(result, Mapping) or not isinstance(result.get("statusCode"), int):
        return bad_gateway()
    headers: list[tuple[str, str]] = [
        (str(k), str(v)) for k, v in (result.get("headers") or {}).items()
    ]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    body = result.get("body") or ""
    if not isinstance(body, str):
        return bad_gateway()
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpAnswer(int(result["statusCode"]), headers, data)


def bad_gateway() -> HttpAnswer:
    return json_answer(502, {"message": "Internal server error"})


def json_answer(status: int, payload: Mapping[str, Any]) -> HttpAnswer:
    return HttpAnswer(status, [("Content-Type", "application/json")], json.dumps(payload).encode())


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS batch event from ReceiveMessage's answer (with AttributeNames and
    MessageAttributeNames All)."""
    records = []
    for message in messages:
        attributes = message.get("MessageAttributes") or {}
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes") or {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": value.get("StringListValues", []),
                        "binaryListValues": value.get("BinaryListValues", []),
                        "dataType": value.get("DataType"),
                    }
                    for name, value in attributes.items()
                },
                "md5OfBody": message.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def failed_message_ids(result: Any, batch: Sequence[str]) -> set[str]:
    """The messages of a batch that go back to the queue, as Lambda reads a function's
    answer with ReportBatchItemFailures: the listed ones; all of them if the answer is
    malformed or names a message not in the batch."""
    if result is None:
        return set()
    if not isinstance(result, Mapping):
        return set(batch)
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(batch)
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or identifier not in batch:
            return set(batch)
        failed.add(identifier)
    return failed


def scheduled_event(rule_name: str, now: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str) -> timedelta:
    """The period of an EventBridge rate expression. As in EventBridge, the unit is
    singular for 1 and plural otherwise. Raises ValueError for anything else (cron
    expressions are not run locally)."""
    match = _RATE.match(expression.strip())
    if match is None:
        raise ValueError(f"not a rate expression: {expression!r}")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) == unit.endswith("s"):
        raise ValueError(f"not a valid rate: {expression!r}")
    return timedelta(seconds=value * _UNITS[unit.rstrip("s")])


def s3_object_created_event(
    bucket: str, key: str, size: int, etag: str, at: datetime
) -> dict[str, Any]:
    """The event S3 sends a function for one new object (ObjectCreated:Put), the key
    URL-encoded as S3 writes it."""
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:ses.amazonaws.com"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "local", "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "MailStored",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "local"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag,
                        "sequencer": f"{int(at.timestamp() * 1e6):016X}",
                    },
                },
            }
        ]
    }
