"""The Idempotency-Key middleware of the creating POST routes (services.api_idempotency
keeps the records)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from tether.api import context
from tether.domain.errors import InvalidInput
from tether.services import api_idempotency

HEADER = "Idempotency-Key"


Middleware = Callable[[ApiGatewayResolver, NextMiddleware], Response[Any]]


def idempotent(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Carry the request out once per key: a repeat answers the first 2xx response
    (with `Idempotent-Replayed: true`); a failed request frees its key for a retry."""
    return _carry_out_once(app, next_middleware, frozenset())


def idempotent_never_storing(*secret_fields: str) -> Middleware:
    """`idempotent` for a response holding a secret: the stored copy, and so a replay,
    has these fields null. The secret is answered once, to the first request only."""
    never_stored = frozenset(secret_fields)

    def middleware(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        return _carry_out_once(app, next_middleware, never_stored)

    return middleware


def _without(body: Any, never_stored: frozenset[str]) -> Any:
    if not never_stored:
        return body
    parsed = json.loads(body) if isinstance(body, str | bytes) else body
    if not isinstance(parsed, dict):
        raise TypeError("a response with secret fields must be a JSON object")
    return {name: None if name in never_stored else value for name, value in parsed.items()}


def _carry_out_once(
    app: ApiGatewayResolver, next_middleware: NextMiddleware, never_stored: frozenset[str]
) -> Response[Any]:
    key = app.current_event.headers.get(HEADER.lower()) or app.current_event.headers.get(HEADER)
    if key is None:
        return next_middleware(app)
    key = key.strip()
    if not key or len(key) > 200 or not key.isprintable():
        raise InvalidInput(f"{HEADER} must be 1 to 200 printable characters")
    request = context.scope()
    tenant_id = request.principal.tenant_id
    event = app.current_event
    fingerprint = api_idempotency.request_fingerprint(event.http_method, event.path, event.body)
    stored = api_idempotency.begin(context.tenant_uow(), tenant_id, key, fingerprint, context.now())
    if stored is not None:
        return Response(
            status_code=stored.status_code,
            content_type=content_types.APPLICATION_JSON,
            body=stored.body,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        response = next_middleware(app)
    except BaseException:
        api_idempotency.abandon(context.tenant_uow(), tenant_id, key)
        raise
    if 200 <= response.status_code < 300:
        api_idempotency.finish(
            context.tenant_uow(),
            tenant_id,
            key,
            response.status_code,
            _without(response.body, never_stored),
        )
    else:
        api_idempotency.abandon(context.tenant_uow(), tenant_id, key)
    return response
