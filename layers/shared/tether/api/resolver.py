"""The API's resolver: its routers under /v1, the error table, the OpenAPI document
(/v1/openapi.json, Swagger UI at /v1/docs), and `serve`, which checks the body's size,
the API key and the body's encoding before any route runs; each route's scope is
checked by `scopes.check_scope` before the route's own middlewares."""

from __future__ import annotations

import base64
import binascii
import re
import threading
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.api import console, context, scopes
from tether.api.body import body_bytes, read_json, read_text
from tether.api.errors import (
    error_payload,
    error_response,
    proxy_error,
    validation_response,
)
from tether.api.routes import (
    campaigns,
    consents,
    event_subscriptions,
    inbox,
    inventory,
    keys,
    launches,
    leads,
    messages,
    privacy,
    settings,
    stats,
    suppressions,
    timers,
    whatsapp,
)
from tether.config import api_settings
from tether.db.unit_of_work import UnitOfWork
from tether.domain.api_keys import bearer_token
from tether.domain.errors import (
    MalformedBody,
    NotFound,
    PayloadTooLarge,
    TetherError,
    TooManyFailures,
    Unauthenticated,
    UnsupportedMediaType,
)
from tether.observability import logger
from tether.services.api_keys import authenticate
from tether.services.inbox import record_access_denied

PREFIX = "/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
DOCS_PATH = f"{PREFIX}/docs"
PUBLIC_PATHS = frozenset({OPENAPI_PATH, DOCS_PATH})
# Powertools would also parse forms and multipart bodies; no route takes them.
ACCEPTED_MEDIA_TYPES = frozenset({"application/json", "text/csv"})
TITLE = "Tether management API"
VERSION = "1.0.0"
DESCRIPTION = (
    "The tenant's control surface. Every request carries `Authorization: Bearer <api key>`;"
    " another tenant's resources answer 404, like unknown ones. Lists are paged with"
    " `limit` and the `next_cursor` of the page before. POSTs that create something honour"
    " an `Idempotency-Key` header. Each operation's `x-tether-scope` is the key scope it"
    " needs (read < write < admin; below it: 403). More than 20 failed key lookups from"
    " one address in a minute answer 429 with `Retry-After` for the rest of the minute."
)

# Powertools keeps the request being resolved on the resolver (and the class) itself, so
# one process resolves one event at a time: a Lambda container does anyway; a local
# server calling `serve` from several threads is made to take turns.
_one_at_a_time = threading.Lock()

# Response validation failing is Tether's bug, never the client's: 500, not 422.
app = APIGatewayRestResolver(enable_validation=True, response_validation_error_http_code=500)
app.configure_openapi(
    title=TITLE,
    version=VERSION,
    description=DESCRIPTION,
    security_schemes={"bearer": HTTPBearer(bearerFormat="tth_...")},
    security=[{"bearer": []}],
)
app.use([scopes.check_scope])
for area in (
    keys,
    inventory,
    campaigns,
    launches,
    leads,
    consents,
    messages,
    inbox,
    timers,
    settings,
    suppressions,
    privacy,
    stats,
    event_subscriptions,
    whatsapp,
):
    app.include_router(area.router, prefix=PREFIX)
app.enable_swagger(path=DOCS_PATH, title=TITLE, version=VERSION, description=DESCRIPTION)


@app.get(OPENAPI_PATH, include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json()
    )


@cache
def openapi_json() -> str:
    """The document as committed in openapi.json (`make openapi`); made once per
    container, the routes being fixed at import."""
    return app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={"bearer": HTTPBearer(bearerFormat="tth_...")},
        security=[{"bearer": []}],
    )


def served_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the resolver answers, paths in OpenAPI form
    (/v1/leads/{lead_id}); what API Gateway must hand to this function."""
    routes = [*app._static_routes, *app._dynamic_routes]
    return sorted(
        [
            *(
                (str(route.method).upper(), re.sub(r"<(\w+)>", r"{\1}", route.path))
                for route in routes
            ),
            *console.ROUTES,
        ]
    )


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_request(error: RequestValidationError) -> Response[Any]:
    return validation_response(error)


@app.exception_handler(NotFound)  # type: ignore[untyped-decorator]
def not_found(error: NotFound) -> Response[Any]:
    request = context.current()
    if request is not None:
        # unknown or another tenant's: the same 404, and the same audit row
        event = app.current_event
        record_access_denied(
            context.tenant_uow(),
            request.principal.tenant_id,
            request.principal.key_id,
            error.kind,
            error.key,
            f"{event.http_method} {event.path}",
        )
        logger.warning("access denied", extra={"kind": error.kind, "key": str(error.key)})
    return error_response(error)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def any_error(error: Exception) -> Response[Any]:
    return error_response(error)


@app.not_found
def no_route(_: Exception) -> Response[Any]:
    return Response(
        status_code=404,
        content_type=content_types.APPLICATION_JSON,
        body=error_payload("not_found", "no such route"),
    )


def serve(
    event: dict[str, Any], lambda_context: LambdaContext, console_files: Path | None = None
) -> dict[str, Any]:
    """Answer one API Gateway proxy event: 413 for a body over the limit and 401 without
    a valid key before any route runs; the request then acts as the key's tenant. Under
    /console, the console's static files from `console_files` (no key: the console asks
    for one and calls /v1 with it)."""
    path = event.get("path") or ""
    if console.is_console_path(path):
        if console_files is None:
            return proxy_error(NotFound("console", path))
        return console.answer(event, console_files, api_settings().websocket_url)
    ports = context.api_ports()
    if _body_size(event) > ports.max_body_bytes:
        return proxy_error(PayloadTooLarge(f"the body is over {ports.max_body_bytes} bytes"))
    media_type = _media_type(event)
    if event.get("body") and media_type not in ACCEPTED_MEDIA_TYPES:
        return proxy_error(
            UnsupportedMediaType("send the body as application/json (or text/csv to /leads/csv)")
        )
    if path in PUBLIC_PATHS:
        with _one_at_a_time:
            return app.resolve(event, lambda_context)
    try:
        principal = authenticate(
            UnitOfWork(ports.connections),
            bearer_token(_authorization(event)),
            ports.now(),
            _source(event),
        )
    except Unauthenticated as error:
        return proxy_error(error)
    except TooManyFailures as error:
        return proxy_error(error, {"Retry-After": str(error.retry_after_seconds)})
    except TetherError as error:
        logger.warning("API key not checked", extra={"error": str(error)})
        return proxy_error(error, message="the API key could not be checked; retry")
    try:
        _read_body(event, media_type)
    except MalformedBody as error:
        return proxy_error(error)
    token = context.enter(context.RequestScope(principal, ports))
    try:
        with _one_at_a_time:
            response = app.resolve(event, lambda_context)
    finally:
        context.leave(token)
    logger.info(
        "api request",
        extra={
            "method": event.get("httpMethod"),
            "path": path,
            "status": response.get("statusCode"),
        },
    )
    return response


def _read_body(event: dict[str, Any], media_type: str) -> None:
    """Refuse a body the routes could not read (tether.api.body has the rules)."""
    body = event.get("body")
    if not body or not isinstance(body, str):
        return
    text = read_text(body_bytes(body, bool(event.get("isBase64Encoded"))))
    if media_type == "application/json":
        read_json(text)


def _source(event: dict[str, Any]) -> str:
    """The caller's address as API Gateway saw it: failed key lookups count per source."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    source = identity.get("sourceIp")
    return source if isinstance(source, str) and source else "unknown"


def _header(event: dict[str, Any], wanted: str) -> str | None:
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == wanted and isinstance(value, str):
            return value
    return None


def _authorization(event: dict[str, Any]) -> str | None:
    return _header(event, "authorization")


def _media_type(event: dict[str, Any]) -> str:
    """The body's media type; none given reads as JSON, as the resolver does."""
    value = _header(event, "content-type") or "application/json"
    return value.split(";", 1)[0].strip().lower()


def _body_size(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    if not isinstance(body, str):
        return 0
    if event.get("isBase64Encoded"):
        try:
            return len(base64.b64decode(body, validate=False))
        except (binascii.Error, ValueError):
            return len(body)
    return len(body.encode("utf-8", errors="surrogatepass"))
