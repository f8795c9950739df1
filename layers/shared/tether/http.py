"""HTTP responses for API Gateway proxy integrations, and the one table that turns
Tether's typed errors into status codes."""

from __future__ import annotations

import json
from typing import Any

from tether.domain.errors import (
    Conflict,
    DependencyUnavailable,
    InProgress,
    InvalidInput,
    NotFound,
    TetherError,
)
from tether.observability import logger
from tether.webhooks.errors import (
    EventIdReused,
    InvalidSignature,
    MethodNotAllowed,
    PayloadTooLarge,
    UnknownWebhookTarget,
    UnsupportedMediaType,
)

Response = dict[str, Any]

# First match wins: subclasses before their bases. Anything not here is a 500.
ERROR_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (MethodNotAllowed, 405, "method_not_allowed"),
    (UnknownWebhookTarget, 404, "not_found"),
    (NotFound, 404, "not_found"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (UnsupportedMediaType, 415, "unsupported_media_type"),
    (InvalidSignature, 401, "invalid_signature"),
    (EventIdReused, 409, "event_id_reused"),
    (InProgress, 409, "in_progress"),
    (Conflict, 409, "conflict"),
    (InvalidInput, 400, "invalid_input"),
    (DependencyUnavailable, 503, "unavailable"),
)

# Headers some statuses need: what to do instead, or when to come back.
ERROR_HEADERS: dict[int, dict[str, str]] = {
    405: {"Allow": "POST"},
    409: {"Retry-After": "1"},
    503: {"Retry-After": "5"},
}


def response(
    status: int, body: str, content_type: str, headers: dict[str, str] | None = None
) -> Response:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type, **(headers or {})},
        "body": body,
    }


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return response(status, json.dumps(payload), "application/json", headers)


def error_response(error: Exception) -> Response:
    """The response for `error`: its status and what went wrong, for a client's error;
    a bare status for Tether's own (logged with the traceback, never shown)."""
    for error_type, status, code in ERROR_STATUS:
        if isinstance(error, error_type):
            if status == 409 and not isinstance(error, InProgress):
                headers = None  # a conflict that will not go away by waiting
            else:
                headers = ERROR_HEADERS.get(status)
            message = str(error) if status < 500 else "a service Tether needs is unavailable"
            if status >= 500:
                logger.warning("unavailable", extra={"error": str(error)})
            return json_response(status, {"error": code, "message": message}, headers)
    if not isinstance(error, TetherError):
        logger.exception("unexpected error")
    else:
        logger.error("internal error", extra={"error": str(error)})
    return json_response(500, {"error": "internal_error", "message": "internal error"})
