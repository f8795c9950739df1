"""The bodies the API answers errors with: `{"error": code, "message": ...,
"fields": [{"field", "reason"}]}`. Which status and code an error gets is the one table
in tether.http, shared with the webhook."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from tether.domain.errors import MalformedBody, UnsupportedMediaType
from tether.http import answer_for

__all__ = [
    "MalformedBody",
    "error_payload",
    "error_response",
    "proxy_error",
    "validation_response",
]


def error_payload(
    code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"error": code, "message": message, "fields": fields or []}


def error_response(error: Exception) -> Response[Any]:
    if isinstance(error, RequestUnsupportedContentType):
        # the resolver's own refusal, answered as Tether's
        error = UnsupportedMediaType(str(error))
    answer = answer_for(error)
    return Response(
        status_code=answer.status,
        content_type=content_types.APPLICATION_JSON,
        body=error_payload(answer.code, answer.message),
        headers=answer.headers or None,
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
    error: Exception, headers: dict[str, str] | None = None, message: str | None = None
) -> dict[str, Any]:
    """The answer to an error met before routing (no key, a body too large), as a proxy
    response; `headers` adds to the table's, `message` says more than the table's."""
    answer = answer_for(error)
    return {
        "statusCode": answer.status,
        "headers": {"Content-Type": "application/json", **answer.headers, **(headers or {})},
        "body": json.dumps(error_payload(answer.code, message or answer.message)),
        "isBase64Encoded": False,
    }
