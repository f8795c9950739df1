"""Where a provider adapter may send requests. Clients hand Tether credential values,
and a credential can carry a URL (`base_url`, SignalWire's `space_url`): left open, that
is a way to make Tether send requests, with a tenant's secrets, to any host. Outside the
local stage (the local stack and the tests) only each provider's own API hosts are
accepted, over HTTPS, and the sandbox provider not at all."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from tether.domain.errors import InvalidInput

# The API hosts each provider documents (README, "Providers").
PROVIDER_HOSTS: Mapping[str, tuple[str, ...]] = {
    "twilio": ("api.twilio.com",),
    "telnyx": ("api.telnyx.com",),
    "signalhouse": ("v2.signalhouse.io",),
}
# A SignalWire space is a host of its own: {space}.signalwire.com.
SIGNALWIRE_SPACE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.signalwire\.com")
LOCAL_ONLY_PROVIDERS = frozenset({"sandbox"})


class EndpointRefused(InvalidInput):
    """A provider, or a provider URL, that this stage does not send to."""


def check_provider_endpoints(
    provider: str, credentials: Mapping[str, object], *, local_stage: bool
) -> None:
    """Raise EndpointRefused unless `provider` with `credentials` sends only to its
    provider's own hosts (anything goes on the local stage)."""
    if local_stage:
        return
    if provider in LOCAL_ONLY_PROVIDERS:
        raise EndpointRefused(f"the {provider} provider is accepted on the local stage only")
    base_url = credentials.get("base_url")
    if base_url is not None:
        _check_url(provider, "base_url", str(base_url))
    if provider == "signalwire" and credentials.get("space_url") is not None:
        space = str(credentials["space_url"])
        _check_url(provider, "space_url", space if "://" in space else f"https://{space}")


def allowed_host(provider: str, host: str) -> bool:
    if provider == "signalwire":
        return SIGNALWIRE_SPACE.fullmatch(host) is not None
    return host in PROVIDER_HOSTS.get(provider, ())


def _check_url(provider: str, field: str, url: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise EndpointRefused(f"{field} is not a URL: {error}") from error
    host = (parts.hostname or "").lower()
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or port not in (None, 443)
        or not allowed_host(provider, host)
    ):
        expected = (
            "{space}.signalwire.com"
            if provider == "signalwire"
            else ", ".join(PROVIDER_HOSTS.get(provider, ())) or "none"
        )
        raise EndpointRefused(
            f"{field} must be an https URL on {provider}'s own API host ({expected})"
        )
