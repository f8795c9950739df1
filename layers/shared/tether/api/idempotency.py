"""The Idempotency-Key middleware of the creating POST routes (services.api_idempotency
keeps the records)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from tether.api import context
from tether.domain.errors import InvalidInput
from tether.services import api_idempotency

HEADER = "Idempotency-Key"


def idempotent(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Carry the request out once per key: a repeat answers the first 2xx response
    (with `Idempotent-Replayed: true`); a failed request frees its key for a retry."""
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
    with context.tenant_uow() as uow:
        stored = api_idempotency.begin(uow, tenant_id, key, fingerprint, context.now())
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
        with context.tenant_uow() as uow:
            api_idempotency.abandon(uow, tenant_id, key)
        raise
    with context.tenant_uow() as uow:
        if 200 <= response.status_code < 300:
            api_idempotency.finish(uow, tenant_id, key, response.status_code, response.body)
        else:
            api_idempotency.abandon(uow, tenant_id, key)
    return response
