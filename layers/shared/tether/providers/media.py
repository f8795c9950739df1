"""Fetching a provider's inbound media (the one door to providers' media URLs).

Providers keep inbound media behind URLs that expire or need the account's credentials:
Twilio's Media resource answers HTTP Basic auth with the account SID and auth token (or
an API key) and redirects to its storage; SignalWire's media answer the project id and
API token once a project turns on "Media URL Protection"; Telnyx hands out short-lived
signed URLs that need none, and SignalHouse's `mediaUrls` are fetched as they are. Credentials go only to the provider's own host (a URL on
any other host, a redirect's target included, is fetched without them), so a URL in a
webhook cannot make Tether hand a tenant's secret to someone else.

The body is read in chunks and the read stops as soon as it passes the size limit; a
Content-Type Tether does not keep is refused before any body is read.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from tether.domain.errors import DependencyUnavailable
from tether.domain.media import MediaRefused, kept_content_type, media_type

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3
READ_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    content_type: str
    body: bytes

    @property
    def size_bytes(self) -> int:
        return len(self.body)


def media_credentials(
    provider: str | None, credentials: Mapping[str, str], url: str
) -> tuple[str, str] | None:
    """The Basic-auth pair to fetch `url` with, or None: only for the provider's own
    media host."""
    host = (urlsplit(url).hostname or "").lower()
    if provider == "twilio" and (host == "twilio.com" or host.endswith(".twilio.com")):
        user = credentials.get("api_key_sid") or credentials.get("account_sid")
        secret = credentials.get("api_key_secret") or credentials.get("auth_token")
        return (user, secret) if user and secret else None
    if provider == "signalwire":
        # the space's host, or SignalWire's own (its "Media URL Protection" answers the
        # project's API credentials when a project turns it on)
        space = str(credentials.get("space_url") or credentials.get("base_url") or "")
        space_host = urlsplit(space if "://" in space else f"https://{space}").hostname or ""
        if host and (host == space_host.lower() or host.endswith(".signalwire.com")):
            user, secret = credentials.get("project_id"), credentials.get("api_token")
            return (user, secret) if user and secret else None
    if provider == "sandbox":
        base = (urlsplit(str(credentials.get("base_url") or "")).hostname or "").lower()
        if host and host == base:
            user, secret = credentials.get("account_id"), credentials.get("api_token")
            return (user, secret) if user and secret else None
    return None


def fetch_media(
    url: str,
    *,
    max_bytes: int,
    provider: str | None = None,
    credentials: Mapping[str, str] | None = None,
    https_only: bool = True,
) -> FetchedMedia:
    """The media at `url`, at most `max_bytes`, of a type Tether keeps. Raises
    MediaRefused when it can never be had (gone, too large, a type not kept, a URL not
    allowed) and DependencyUnavailable when a later try may succeed."""
    import urllib3
    from urllib3.exceptions import HTTPError

    from tether.providers.transport import CONNECT_TIMEOUT_SECONDS, http_pool

    target = url
    for _ in range(MAX_REDIRECTS + 1):
        scheme = urlsplit(target).scheme.lower()
        if scheme != "https" and not (scheme == "http" and not https_only):
            raise MediaRefused(f"not fetched: only https media URLs are ({target[:100]})")
        headers = {"Accept": "*/*"}
        auth = media_credentials(provider, credentials or {}, target)
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            response = http_pool().request(
                "GET",
                target,
                headers=headers,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
                retries=False,
                redirect=False,
                preload_content=False,
            )
        except HTTPError as error:
            raise DependencyUnavailable("media host", type(error).__name__) from error
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise MediaRefused(f"HTTP {response.status} without a Location")
                target = urljoin(target, location)
                continue
            return _read(response, max_bytes)
        except HTTPError as error:
            raise DependencyUnavailable("media host", type(error).__name__) from error
        finally:
            response.release_conn()
    raise MediaRefused(f"more than {MAX_REDIRECTS} redirects")


def _read(response: object, max_bytes: int) -> FetchedMedia:
    from urllib3 import BaseHTTPResponse

    assert isinstance(response, BaseHTTPResponse)
    status = response.status
    if status in (408, 425, 429) or status >= 500:
        raise DependencyUnavailable("media host", f"HTTP {status}")
    if status != 200:
        raise MediaRefused(f"the media URL answered HTTP {status}")
    content_type = media_type(response.headers.get("Content-Type"))
    if not kept_content_type(content_type):
        raise MediaRefused(
            f"content type {content_type or 'none'!r} is not kept",
            content_type=content_type or None,
        )
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise MediaRefused(
            f"{int(declared)} bytes: more than the {max_bytes} kept",
            content_type=content_type,
            size_bytes=int(declared),
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise MediaRefused(f"more than the {max_bytes} bytes kept", content_type=content_type)
        chunks.append(chunk)
    return FetchedMedia(content_type, b"".join(chunks))
