"""HTTP for the provider adapters: one urllib3 pool per container, explicit timeouts, no
retries (retrying a send is the caller's decision: it knows whether the provider has an
idempotency key). urllib3 is already in the Lambda runtime through botocore."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from tether.observability import logger
from tether.providers.base import ProviderError, ProviderErrorKind, SendAccepted, SendCommand

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0


@lru_cache(maxsize=1)
def http_pool() -> urllib3.PoolManager:
    """The container-wide connection pool (made on first use, reused across invocations)."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
        retries=False,
        headers={"User-Agent": "tether"},
    )


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON (a proxy's HTML page)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def http_request(
    provider: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
    fields: Mapping[str, str] | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> HttpResponse:
    """One request; any failure to get an answer is a RETRYABLE ProviderError, flagged
    `may_have_sent` unless the connection was never made."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=read_timeout)
    try:
        if fields is not None:
            response = http_pool().request(
                method,
                url,
                fields=dict(fields),
                headers=dict(headers),
                encode_multipart=True,
                timeout=timeout,
                retries=False,
                redirect=False,
            )
        else:
            response = http_pool().request(
                method,
                url,
                body=body,
                headers=dict(headers),
                timeout=timeout,
                retries=False,
                redirect=False,
            )
    except (ConnectTimeoutError, NewConnectionError) as error:
        raise ProviderError(
            provider, ProviderErrorKind.RETRYABLE, f"could not connect: {error}"
        ) from error
    except HTTPError as error:
        # A read timeout or a dropped connection: the provider may have taken the text.
        raise ProviderError(
            provider,
            ProviderErrorKind.RETRYABLE,
            f"no answer: {type(error).__name__}",
            may_have_sent=True,
        ) from error
    return HttpResponse(response.status, response.data)


def error_for_status(
    provider: str,
    response: HttpResponse,
    kind: ProviderErrorKind,
    *,
    code: str | None,
    reason: object,
) -> ProviderError:
    """The ProviderError of an HTTP error answer (logged); a 5xx may have created the
    message. `reason` is the provider's message when it sent a string."""
    error = ProviderError(
        provider,
        kind,
        reason if isinstance(reason, str) and reason else f"HTTP {response.status}",
        code=code,
        http_status=response.status,
        may_have_sent=response.status >= 500,
    )
    logger.warning(
        "provider refused message",
        extra={"provider": provider, "code": code, "kind": str(error.kind)},
    )
    return error


def error_code(raw: object) -> str | None:
    """A provider's error code as text (they send numbers or strings); None when absent."""
    return str(raw) if raw not in (None, "") else None


def accepted_message(provider: str, command: SendCommand, accepted: SendAccepted) -> SendAccepted:
    """Log a send the provider took, and hand it back."""
    logger.info(
        "provider accepted message",
        extra={
            "provider": provider,
            "send_key": command.idempotency_key,
            "external_id": accepted.external_id,
        },
    )
    return accepted
