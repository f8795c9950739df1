"""HTTP responses for API Gateway proxy integrations, and the one table that turns
Tether's typed errors into status codes, for the webhook and the API alike."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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
    InvalidValue,
    MalformedBody,
    MethodNotAllowed,
    NoFreeNumber,
    NotFound,
    PayloadTooLarge,
    PoolExhausted,
    RequestRejected,
    SenderUnavailable,
    TetherError,
    TooManyFailures,
    Unauthenticated,
    UnsupportedMediaType,
)
from tether.observability import logger
from tether.webhooks.errors import EventIdReused, InvalidSignature, UnknownWebhookTarget

Response = dict[str, Any]

# First match wins: subclasses before their bases. Anything not here is a 500.
# Two kinds of bad input, two statuses: a request that cannot be read as sent (a
# provider's payload, a body that is not JSON) is a 400; a readable one whose values
# break a rule is a 422. The webhook's refusals are all RequestRejected, so the webhook
# answers 400 where the API, for a value, answers 422.
ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (MethodNotAllowed, 405, "method_not_allowed"),
    (UnknownWebhookTarget, 404, "not_found"),
    (NotFound, 404, "not_found"),
    (MalformedBody, 400, "malformed_body"),
    (Unauthenticated, 401, "unauthenticated"),
    (InvalidSignature, 401, "invalid_signature"),
    (Forbidden, 403, "forbidden"),
    (TooManyFailures, 429, "too_many_failures"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (UnsupportedMediaType, 415, "unsupported_media_type"),
    (EventIdReused, 409, "event_id_reused"),
    (IdempotencyKeyReused, 409, "idempotency_key_reused"),
    (InProgress, 409, "in_progress"),
    (InvalidTransition, 409, "invalid_transition"),
    (InvalidState, 409, "invalid_state"),
    (PoolExhausted, 409, "pool_exhausted"),
    (NoFreeNumber, 409, "no_free_number"),
    (SenderUnavailable, 409, "sender_unavailable"),
    (Conflict, 409, "conflict"),
    (ConstraintViolation, 422, "constraint_violation"),
    (InvalidValue, 422, "invalid_value"),
    (RequestRejected, 400, "invalid_input"),
    (InvalidInput, 422, "invalid_input"),
    (DependencyUnavailable, 503, "unavailable"),
)

# Headers some answers need: what to do instead, who to be, or when to come back.
ERROR_HEADERS: dict[str, dict[str, str]] = {
    "method_not_allowed": {"Allow": "POST"},
    "unauthenticated": {"WWW-Authenticate": 'Bearer realm="tether"'},
    "in_progress": {"Retry-After": "1"},
    "unavailable": {"Retry-After": "5"},
}

UNAVAILABLE_MESSAGE = "a service Tether needs is unavailable"
INTERNAL_MESSAGE = "internal error"


@dataclass(frozen=True)
class ErrorAnswer:
    """What a surface answers for an error: status, code, a message for the client and
    the headers that go with it. Tether's own errors never show their text."""

    status: int
    code: str
    message: str
    headers: dict[str, str]


def status_of(error: Exception) -> tuple[int, str]:
    for error_type, status, code in ERRORS:
        if isinstance(error, error_type):
            return status, code
    return 500, "internal_error"


def answer_for(error: Exception) -> ErrorAnswer:
    """The answer to `error`, logged when it is Tether's (with the traceback when it
    was not raised on purpose) or a dependency's."""
    status, code = status_of(error)
    if status == 503:
        logger.warning("dependency unavailable", extra={"error": str(error)})
        message = UNAVAILABLE_MESSAGE
    elif status == 500:
        if isinstance(error, TetherError):
            logger.error("internal error", extra={"error": str(error)}, exc_info=error)
        else:
            logger.exception("unexpected error", exc_info=error)
        message = INTERNAL_MESSAGE
    else:
        message = str(error)
    return ErrorAnswer(status, code, message, dict(ERROR_HEADERS.get(code, {})))


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
    """The webhook's response for `error`: its status and what went wrong, for a
    client's error; a bare status for Tether's own."""
    answer = answer_for(error)
    return json_response(
        answer.status, {"error": answer.code, "message": answer.message}, answer.headers
    )
