"""Where provider adapters may send (tether.domain.provider_endpoints): outside the local
stage, only each provider's own API hosts over HTTPS, and never the sandbox."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.errors import InvalidInput
from tether.domain.provider_endpoints import (
    EndpointRefused,
    allowed_host,
    check_provider_endpoints,
)
from tether.providers import ProviderError, ProviderErrorKind, provider_for
from tether.providers.signalwire import SignalWireProvider

SANDBOX = {"account_id": "a", "api_token": "t", "base_url": "http://127.0.0.1:1"}


def test_the_sandbox_is_refused_outside_the_local_stage() -> None:
    with pytest.raises(EndpointRefused, match="local stage only"):
        check_provider_endpoints("sandbox", SANDBOX, local_stage=False)
    with pytest.raises(ProviderError) as raised:
        provider_for("sandbox", SANDBOX)
    assert raised.value.kind == ProviderErrorKind.AUTH
    assert "local stage only" in raised.value.reason
    # on the local stage (the local stack, the tests) it is the whole point
    provider_for("sandbox", SANDBOX, local_stage=True)


@pytest.mark.parametrize(
    ("provider", "credentials"),
    [
        ("twilio", {"account_sid": "AC1", "auth_token": "t", "base_url": "https://evil.example"}),
        ("twilio", {"account_sid": "AC1", "auth_token": "t", "base_url": "http://api.twilio.com"}),
        (
            "twilio",
            {"account_sid": "AC1", "auth_token": "t", "base_url": "https://api.twilio.com.evil.io"},
        ),
        (
            "twilio",
            {"account_sid": "AC1", "auth_token": "t", "base_url": "https://u:p@api.twilio.com"},
        ),
        (
            "twilio",
            {"account_sid": "AC1", "auth_token": "t", "base_url": "https://api.twilio.com:8443"},
        ),
        ("telnyx", {"api_key": "k", "base_url": "https://169.254.169.254/latest"}),
        ("telnyx", {"api_key": "k", "base_url": "https://api.twilio.com/v2"}),  # not Telnyx's
        ("signalhouse", {"api_key": "k", "base_url": "https://localhost"}),
        ("signalwire", {"project_id": "p", "api_token": "t", "space_url": "evil.example"}),
        ("signalwire", {"project_id": "p", "api_token": "t", "space_url": "signalwire.com"}),
        (
            "signalwire",
            {"project_id": "p", "api_token": "t", "space_url": "acme.signalwire.com.evil.io"},
        ),
        ("signalwire", {"project_id": "p", "api_token": "t", "space_url": "http://127.0.0.1:9"}),
        ("signalwire", {"project_id": "p", "api_token": "t", "space_url": "https://[::1"}),
    ],
)
def test_a_base_url_pointing_elsewhere_is_refused(
    provider: str, credentials: dict[str, str]
) -> None:
    with pytest.raises(EndpointRefused) as refused:
        check_provider_endpoints(provider, credentials, local_stage=False)
    assert isinstance(refused.value, InvalidInput)  # a 422 at registration
    with pytest.raises(ProviderError) as raised:
        provider_for(provider, credentials, credentials.get("base_url"))
    assert raised.value.kind == ProviderErrorKind.AUTH


@pytest.mark.parametrize(
    ("provider", "credentials"),
    [
        ("twilio", {"account_sid": "AC1", "auth_token": "t"}),
        (
            "twilio",
            {
                "account_sid": "AC1",
                "auth_token": "t",
                "base_url": "https://api.twilio.com/2010-04-01",
            },
        ),
        ("telnyx", {"api_key": "k", "base_url": "https://api.telnyx.com/v2"}),
        ("signalhouse", {"api_key": "k", "base_url": "https://v2.signalhouse.io"}),
        ("signalwire", {"project_id": "p", "api_token": "t", "space_url": "acme.signalwire.com"}),
        (
            "signalwire",
            {"project_id": "p", "api_token": "t", "space_url": "https://acme-2.signalwire.com/"},
        ),
    ],
)
def test_the_providers_own_hosts_are_accepted(provider: str, credentials: dict[str, str]) -> None:
    check_provider_endpoints(provider, credentials, local_stage=False)
    provider_for(provider, credentials, credentials.get("base_url"))


def test_a_signalwire_adapter_talks_to_its_space() -> None:
    adapter = provider_for(
        "signalwire", {"project_id": "p", "api_token": "t", "space_url": "acme.signalwire.com"}
    )
    assert isinstance(adapter, SignalWireProvider)


@given(st.text(max_size=80))
def test_no_generated_url_reaches_a_host_off_the_list(url: str) -> None:
    for provider in ("twilio", "telnyx", "signalhouse", "signalwire"):
        key = "space_url" if provider == "signalwire" else "base_url"
        try:
            check_provider_endpoints(provider, {key: url}, local_stage=False)
        except EndpointRefused:
            continue
        from urllib.parse import urlsplit

        target = url if "://" in url else f"https://{url}"
        assert allowed_host(provider, (urlsplit(target).hostname or "").lower())
