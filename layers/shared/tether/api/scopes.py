"""Which key scope each route needs: declared once per route as its OpenAPI extension
`x-tether-scope` (so the document shows it), and checked by one middleware before the
route's own middlewares run. A route that declares nothing needs admin."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from tether.api import context
from tether.domain.api_keys import Scope
from tether.domain.errors import Forbidden

EXTENSION = "x-tether-scope"

READ: dict[str, Any] = {EXTENSION: Scope.READ.value}
WRITE: dict[str, Any] = {EXTENSION: Scope.WRITE.value}
ADMIN: dict[str, Any] = {EXTENSION: Scope.ADMIN.value}


def required_scope(extensions: dict[str, Any] | None) -> Scope:
    return Scope((extensions or {}).get(EXTENSION, Scope.ADMIN.value))


def check_scope(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """403 when the request's key is below the route's scope."""
    request = context.current()
    if request is None:  # only the public document is served without a key
        return next_middleware(app)
    route = app.context.get("_route")
    needed = required_scope(getattr(route, "openapi_extensions", None))
    held = request.principal.scope
    if not held.allows(needed):
        raise Forbidden(f"this route needs a key of scope {needed}; this key is {held}")
    return next_middleware(app)
