"""The API's resolver: its routers under /v1, the error table, the OpenAPI document
(/v1/openapi.json, Swagger UI at /v1/docs), and `serve`, which checks the body's size,
the API key and the body's encoding before any route runs; each route's scope is
checked by `scopes.check_scope` before the route's own middlewares.

A cold start imports only the routes its first request needs: each route module (an
"area", with the services and schemas it imports) is included when a request first
reaches a path its routes serve, as `SEGMENTS` says by the path's first segment under
/v1. Areas sharing a segment are included together, in `AREAS` order, so routes that
could match the same path are tried in the order they always were. The OpenAPI
document and the Swagger UI include every area first; so does a path no area serves.
Powertools' OpenAPI models (about 50 ms to import) load only for those two."""

from __future__ import annotations

import base64
import binascii
import importlib
import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.api import console, context, scopes
from tether.api.body import body_bytes, read_json, read_text
from tether.api.errors import (
    error_payload,
    error_response,
    proxy_error,
    validation_response,
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

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme

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
app.use([scopes.check_scope])

# The route modules (tether.api.routes.*), in the order their routes are registered.
AREAS = (
    "keys",
    "inventory",
    "campaigns",
    "launches",
    "leads",
    "consents",
    "messages",
    "inbox",
    "timers",
    "settings",
    "suppressions",
    "privacy",
    "stats",
    "event_subscriptions",
    "whatsapp",
)
# The first segment of a path under /v1 → the areas with routes there (a test checks
# this against the routes: a new route under a new segment needs its line here).
SEGMENTS: dict[str, tuple[str, ...]] = {
    "api-keys": ("keys",),
    "audit-log": ("inbox",),
    "call-queue": ("inbox",),
    "campaigns": ("campaigns", "launches", "stats"),
    "consents": ("consents",),
    "erasures": ("privacy",),
    "escalations": ("timers",),
    "event-subscriptions": ("event_subscriptions",),
    "leads": ("consents", "leads", "privacy", "timers"),
    "messages": ("messages",),
    "notifications": ("inbox",),
    "phone-numbers": ("inventory", "stats"),
    "pools": ("inventory",),
    "provider-accounts": ("inventory",),
    "settings": ("settings",),
    "suppressions": ("suppressions",),
    "threads": ("inbox",),
    "unmatched-inbound": ("inbox",),
    "call-outcomes": ("inbox",),
    "whatsapp-templates": ("whatsapp",),
}
_included: set[str] = set()


def _together(areas: Iterable[str]) -> set[str]:
    """`areas` and every area sharing a segment with one of them, and so on."""
    wanted = set(areas)
    while True:
        more = {area for group in SEGMENTS.values() if wanted & set(group) for area in group}
        if more <= wanted:
            return wanted
        wanted |= more


def include_areas(areas: Iterable[str]) -> None:
    """Register the routes of `areas` (and of the areas sharing their segments) that are
    not registered yet, in AREAS order. Callers hold `_one_at_a_time` or run before any
    request (tests, `make openapi`)."""
    wanted = _together(areas) - _included
    for area in AREAS:
        if area in wanted:
            module = importlib.import_module(f"tether.api.routes.{area}")
            app.include_router(module.router, prefix=PREFIX)
            _included.add(area)


def include_every_area() -> None:
    include_areas(AREAS)


def _areas_for(path: str) -> tuple[str, ...]:
    """The areas whose routes may answer `path`: all of them for a path no area serves,
    so that such a request is answered as it always was."""
    first = path.removeprefix(f"{PREFIX}/").split("/", 1)[0]
    return SEGMENTS.get(first, AREAS) if path.startswith(f"{PREFIX}/") else AREAS


def _security() -> tuple[dict[str, SecurityScheme], list[dict[str, list[str]]]]:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return {"bearer": HTTPBearer(bearerFormat="tth_...")}, [{"bearer": []}]


@cache
def _enable_docs() -> None:
    """The Swagger UI at /v1/docs, added on its first request: every route first."""
    include_every_area()
    security_schemes, security = _security()
    app.enable_swagger(
        path=DOCS_PATH,
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes=security_schemes,
        security=security,
    )


@app.get(OPENAPI_PATH, include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json()
    )


@cache
def openapi_json() -> str:
    """The document as committed in openapi.json (`make openapi`); made once per
    container, every route included first."""
    include_every_area()
    security_schemes, security = _security()
    return app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes=security_schemes,
        security=security,
    )


def served_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the resolver answers, paths in OpenAPI form
    (/v1/leads/{lead_id}); what API Gateway must hand to this function."""
    include_every_area()
    _enable_docs()
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
        # (the inbox service brings the reply and send paths: loaded for a 404 only)
        from tether.services.inbox import record_access_denied

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
            if path == DOCS_PATH:
                _enable_docs()
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
            include_areas(_areas_for(path))
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
