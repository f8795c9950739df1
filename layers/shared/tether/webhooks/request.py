"""A webhook request as the provider sent it, read from an API Gateway proxy event.

Signatures cover the raw body and, for Twilio and SignalWire, the public URL exactly
as the provider called it, so both are kept as they came: the body as bytes, the URL
rebuilt from the Host, X-Forwarded-Proto and X-Forwarded-Port headers and the request
path with its API Gateway stage (or custom-domain base path).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict

from tether.webhooks.errors import MalformedPayload

DEFAULT_PORTS = {"https": 443, "http": 80}


class PublicUrl(BaseModel):
    """The URL the provider called. API Gateway hands over the query decoded, so it is
    re-encoded here (RFC 3986, as providers send it): a webhook URL configured with an
    unusual query encoding will not verify, so configure plain ones."""

    model_config = ConfigDict(frozen=True)

    scheme: str
    host: str
    port: int | None = None
    path: str
    query: tuple[tuple[str, str], ...] = ()

    def query_value(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)

    def candidates(self) -> list[str]:
        """The URL as the provider may have signed it: with and without its port, as
        the official Twilio SDK's RequestValidator tries (its add_port/remove_port: a
        URL without a port is also tried with 443 for https and 80 otherwise)."""
        query = (
            f"?{urlencode(self.query, quote_via=quote, errors='surrogatepass')}"
            if self.query
            else ""
        )
        plain = f"{self.scheme}://{self.host}{self.path}{query}"
        port = self.port or (443 if self.scheme == "https" else 80)
        with_port = f"{self.scheme}://{self.host}:{port}{self.path}{query}"
        return (
            [plain, with_port]
            if self.port in (None, DEFAULT_PORTS.get(self.scheme))
            else [
                with_port,
                plain,
            ]
        )


# The routes the webhook function serves; their path parameters are read below.
WEBHOOK_METHOD = "POST"
WEBHOOK_PATH = "/webhooks/{provider}/{account_id}"
# the voice side's call outcomes (issue 18): the same receipt path, other providers' parsers
VOICE_WEBHOOK_PATH = "/webhooks/voice/{provider}/{account_id}"


class WebhookRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    method: str
    provider: str
    account_id: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    url: PublicUrl
    voice: bool = False  # called on VOICE_WEBHOOK_PATH

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def media_type(self) -> str:
        """The Content-Type without its parameters, lower-cased ("" when absent)."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    @classmethod
    def from_api_gateway(cls, event: Mapping[str, Any]) -> WebhookRequest:
        """Read a REST API (v1) proxy event. Raises MalformedPayload when its body is
        flagged as base64 but is not."""
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        path_parameters = event.get("pathParameters") or {}
        context = event.get("requestContext") or {}
        return cls(
            method=str(event.get("httpMethod") or "").upper(),
            provider=str(path_parameters.get("provider") or ""),
            account_id=str(path_parameters.get("account_id") or ""),
            headers=headers,
            body=_body(event),
            url=_public_url(event, headers, context),
            voice=str(event.get("resource") or context.get("resourcePath") or "")
            == VOICE_WEBHOOK_PATH,
        )


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        # a lone surrogate in the event's text is kept as its bytes (stored, never a 500)
        return str(body).encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedPayload("the body is flagged as base64 but is not") from error


def _public_url(
    event: Mapping[str, Any], headers: Mapping[str, str], context: Mapping[str, Any]
) -> PublicUrl:
    scheme = _first(headers.get("x-forwarded-proto")) or "https"
    host = headers.get("host") or str(context.get("domainName") or "")
    port: int | None = None
    if ":" in host:
        host, _, host_port = host.rpartition(":")
        port = _port(host_port)
    if port is None:
        port = _port(_first(headers.get("x-forwarded-port")))
    # requestContext.path is the path as called: with the stage on the execute-api
    # domain, with the base path on a custom domain
    path = str(context.get("path") or "")
    if not path:
        stage = str(context.get("stage") or "")
        resource_path = str(event.get("path") or "/")
        path = f"/{stage}{resource_path}" if stage and stage != "$default" else resource_path
    return PublicUrl(scheme=scheme, host=host, port=port, path=path, query=_query(event))


def _query(event: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    multi = event.get("multiValueQueryStringParameters")
    if multi:
        return tuple((str(k), str(v)) for k, values in multi.items() for v in values or [])
    single = event.get("queryStringParameters") or {}
    return tuple((str(k), str(v)) for k, v in single.items())


def _port(text: str | None) -> int | None:
    """A TCP port, or None for anything else ("²" and "٣" are digits to str.isdigit)."""
    if not text or len(text) > 5 or not text.isascii() or not text.isdigit():
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def _first(value: str | None) -> str | None:
    """The first of a comma-separated header's values (proxies append theirs)."""
    return value.split(",", 1)[0].strip().lower() if value else None
