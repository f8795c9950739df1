"""The WebSocket API (API Gateway, Lambda proxy integrations): its events read into
models and handed to tether.services.push, and its $connect authorizer, which checks
the `api_key` query parameter as the REST API checks its bearer key.

Route keys are API Gateway's: `$connect` (after the authorizer let the key in),
`$disconnect`, `subscribe` and `ping` (the route selection expression is
`$request.body.action`), and `$default` for anything else. The routes that answer are
two-way (a route response in template.yaml): the body returned here is the frame the
client gets."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from tether.db.connection import ConnectionSource
from tether.db.unit_of_work import UnitOfWork
from tether.domain.api_keys import well_formed_key
from tether.domain.errors import (
    DependencyUnavailable,
    InvalidInput,
    NotFound,
    TooManyFailures,
    Unauthenticated,
)
from tether.domain.push import Frame, error_frame, read_client_message
from tether.observability import logger
from tether.services import push
from tether.services.api_keys import authenticate
from tether.services.push import UnitOfWorkFor, WebSocketSink

if TYPE_CHECKING:
    from tether.aws.connections import ConnectionTable

CONNECT, DISCONNECT, DEFAULT = "$connect", "$disconnect", "$default"
# what the authorizer hands on (requestContext.authorizer of every later event)
TENANT_KEY = "tenant_id"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WebSocketPorts:
    """What the WebSocket API talks to: the connections table and the database."""

    connections: ConnectionTable
    database: ConnectionSource
    now: Callable[[], datetime] = utc_now

    def uow_for(self, tenant_id: UUID | None) -> UnitOfWork:
        return UnitOfWork(self.database, tenant_id)


@lru_cache(maxsize=1)
def websocket_ports() -> WebSocketPorts:
    """The container's table and connection, made on first use."""
    from tether.aws.connections import ConnectionTable
    from tether.config import websocket_settings
    from tether.db.connection import lambda_connection

    return WebSocketPorts(
        ConnectionTable(websocket_settings().connections_table_name), lambda_connection("app")
    )


def websocket_sink(uow_for: UnitOfWorkFor) -> WebSocketSink:
    """The WebSocketSink of a function whose environment names the connections table
    and the stage's @connections endpoint (PushSettings: CONNECTIONS_TABLE_NAME,
    WEBSOCKET_MANAGEMENT_URL); its clients are made on first use."""
    from tether.aws.connections import ConnectionsApi, ConnectionTable
    from tether.config import push_settings

    settings = push_settings()
    return WebSocketSink(
        ConnectionTable(settings.connections_table_name),
        ConnectionsApi(settings.websocket_management_url),
        uow_for,
    )


@lru_cache(maxsize=1)
def authorizer_database() -> ConnectionSource:
    from tether.db.connection import lambda_connection

    return lambda_connection("app")


class _Identity(BaseModel):
    sourceIp: str = "unknown"


class WebSocketContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    routeKey: str
    eventType: str
    connectionId: str
    requestTimeEpoch: int | None = None
    identity: _Identity = _Identity()
    authorizer: dict[str, Any] | None = None


class WebSocketEvent(BaseModel):
    """A route's event (CONNECT, MESSAGE or DISCONNECT)."""

    model_config = ConfigDict(extra="ignore")

    requestContext: WebSocketContext
    body: str | None = None
    isBase64Encoded: bool = False


def serve(event: dict[str, Any], ports: WebSocketPorts | None = None) -> dict[str, Any]:
    """Answer one WebSocket route event: 200 (a route's frame as its body), or a
    refusal of $connect."""
    ports = ports or websocket_ports()
    request = WebSocketEvent.model_validate(event)
    context = request.requestContext
    logger.append_keys(connection_id=context.connectionId, route_key=context.routeKey)
    if context.routeKey == CONNECT:
        tenant = (context.authorizer or {}).get(TENANT_KEY)
        if not isinstance(tenant, str):  # only an authorizer's context names it
            logger.error("connect without the authorizer's tenant")
            return {"statusCode": 401}
        push.connect(ports.connections, context.connectionId, UUID(tenant), ports.now())
        return {"statusCode": 200}
    if context.routeKey == DISCONNECT:
        push.disconnect(ports.connections, context.connectionId)
        return {"statusCode": 200}
    return {"statusCode": 200, "body": json.dumps(_answer(ports, context, request.body))}


def _answer(ports: WebSocketPorts, context: WebSocketContext, body: str | None) -> Frame:
    try:
        message = read_client_message(body)
        if context.routeKey == "subscribe":
            return push.subscribe(ports.connections, ports.uow_for, context.connectionId, message)
        if context.routeKey == "ping":
            return push.ping()
        return error_frame('unknown action; send "subscribe" (with "stages") or "ping"')
    except InvalidInput as error:
        return error_frame(str(error))
    except NotFound:
        return error_frame("this connection is no longer known; connect again")
    except DependencyUnavailable as error:
        logger.warning("websocket route failed", extra={"error": str(error)})
        return error_frame("a service Tether needs is unavailable; send it again")


class Unauthorized(Exception):
    """What a Lambda authorizer raises for API Gateway to answer 401: the message must
    be exactly "Unauthorized"."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(
    event: dict[str, Any],
    database: ConnectionSource | None = None,
    now: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    """The $connect REQUEST authorizer: the `api_key` query parameter checked as a
    bearer key is (failed lookups count per source address). An unknown key raises
    Unauthorized (401); a source over its failures is denied (403); a good key is
    allowed, its tenant handed on in the context."""
    query = event.get("queryStringParameters") or {}
    context = event.get("requestContext") or {}
    source = ((context.get("identity") or {}).get("sourceIp")) or "unknown"
    method_arn = str(event.get("methodArn") or "")
    try:
        principal = authenticate(
            UnitOfWork(database or authorizer_database()),
            well_formed_key(query.get("api_key")),
            now(),
            str(source),
        )
    except Unauthenticated:
        raise Unauthorized() from None
    except TooManyFailures:
        return _policy("anonymous", "Deny", method_arn, {})
    return _policy(
        str(principal.key_id),
        "Allow",
        method_arn,
        {TENANT_KEY: str(principal.tenant_id), "api_key_id": str(principal.key_id)},
    )


def _policy(
    principal_id: str, effect: str, method_arn: str, context: dict[str, str]
) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
            ],
        },
        "context": context,
    }
