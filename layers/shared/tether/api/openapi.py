"""What every route documents besides its success: the errors it may answer with."""

from __future__ import annotations

from typing import Any

from tether.api.schemas import ErrorBody

ERROR_DESCRIPTIONS = {
    400: "The body is not readable JSON: not UTF-8, too deep, a number too long; says which",
    401: "No valid API key",
    403: "The key's scope does not cover this route (see x-tether-scope)",
    404: "Unknown id, or another tenant's (the two look alike)",
    409: "Conflicts with the current state, or a repeated Idempotency-Key",
    413: "Body over 1 MiB",
    415: "Body neither JSON nor, where a route takes it, CSV",
    422: "Invalid input: each field and the reason",
    429: "Too many failed API key lookups from this address this minute; see Retry-After",
    503: "A service Tether needs is unavailable; retry",
}
COMMON = (400, 401, 403, 413, 415, 422, 429, 503)


def responses(success: int = 200, *errors: int) -> dict[int, Any]:
    """The success response (the route's return model) and the error responses."""
    documented: dict[int, Any] = {success: {"description": "Success"}}
    for status in sorted({*COMMON, *errors}):
        documented[status] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return documented
