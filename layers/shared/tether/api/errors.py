"""The API's one table from typed errors to status codes, and the bodies it answers
with: `{"error": code, "message": ..., "fields": [{"field", "reason"}]}`."""

from __future__ import annotations

from typing import Any

import psycopg
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from tether.domain.errors import (
    Conflict,
    ConstraintViolation,
    DependencyUnavailable,
    Forbidden,
    IdempotencyKeyReused,
    InProgress,
    InvalidInput,
    InvalidState,
    InvalidTransition,
    NoFreeNumber,
    NotFound,
    PoolExhausted,
    SenderUnavailable,
    TetherError,
    TooManyFailures,
    Unauthenticated,
)
from tether.observability import logger


class MalformedBody(TetherError):
    """A body the API cannot read as JSON within its limits (encoding, depth, numbers)."""


class BodyTooLarge(TetherError):
    """A request body over the API's limit (1 MiB)."""


class UnsupportedMediaType(TetherError):
    """A body that is neither JSON nor, where a route takes it, CSV."""


# First match wins: subclasses before their bases. Anything not here is a 500.
API_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (MalformedBody, 400, "malformed_body"),
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (TooManyFailures, 429, "too_many_failures"),
    (NotFound, 404, "not_found"),
    (BodyTooLarge, 413, "payload_too_large"),
    (UnsupportedMediaType, 415, "unsupported_media_type"),
    (RequestUnsupportedContentType, 415, "unsupported_media_type"),
    (IdempotencyKeyReused, 409, "idempotency_key_reused"),
    (InProgress, 409, "in_progress"),
    (InvalidTransition, 409, "invalid_transition"),
    (InvalidState, 409, "invalid_state"),
    (PoolExhausted, 409, "pool_exhausted"),
    (NoFreeNumber, 409, "no_free_number"),
    (SenderUnavailable, 409, "sender_unavailable"),
    (Conflict, 409, "conflict"),
    (ConstraintViolation, 422, "constraint_violation"),
    (InvalidInput, 422, "invalid_input"),
    # a value the driver or the server refused (out of range, not storable): the client's
    (psycopg.DataError, 422, "invalid_value"),
    (DependencyUnavailable, 503, "unavailable"),
    # the database did not answer (down, failing over, out of connections): retry
    (psycopg.OperationalError, 503, "unavailable"),
)

ERROR_HEADERS: dict[str, dict[str, str]] = {
    "unauthenticated": {"WWW-Authenticate": 'Bearer realm="tether"'},
    "in_progress": {"Retry-After": "1"},
    "unavailable": {"Retry-After": "5"},
}


def error_payload(
    code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"error": code, "message": message, "fields": fields or []}


def status_of(error: Exception) -> tuple[int, str]:
    for error_type, status, code in API_ERRORS:
        if isinstance(error, error_type):
            return status, code
    return 500, "internal_error"


def error_response(error: Exception) -> Response[Any]:
    status, code = status_of(error)
    if status >= 500:
        if status == 500:
            logger.exception("unexpected error", exc_info=error)
        else:
            logger.warning("dependency unavailable", extra={"error": str(error)})
        message = "internal error" if status == 500 else "a service Tether needs is unavailable"
    elif isinstance(error, psycopg.DataError):
        message = "a value is out of range or cannot be stored"
    else:
        message = str(error)
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_payload(code, message),
        headers=ERROR_HEADERS.get(code),
    )


def validation_response(error: RequestValidationError) -> Response[Any]:
    """422 naming each field and what is wrong with it (never echoing the value)."""
    fields = [
        {
            "field": ".".join(str(part) for part in item.get("loc", ()) if part != "") or "body",
            "reason": str(item.get("msg", item.get("type", "invalid"))),
        }
        for item in error.errors()
    ]
    return Response(
        status_code=422,
        content_type=content_types.APPLICATION_JSON,
        body=error_payload("invalid_input", "the request is not valid", fields),
    )


def proxy_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An error answered before routing (no key, body too large), as a proxy response."""
    import json

    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            **ERROR_HEADERS.get(code, {}),
            **(headers or {}),
        },
        "body": json.dumps(error_payload(code, message)),
        "isBase64Encoded": False,
    }
