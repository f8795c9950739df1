from __future__ import annotations

import pytest

from tether.providers import ProviderError, ProviderErrorKind, provider_for
from tether.providers.sandbox import SandboxProvider
from tether.providers.signalhouse import SignalHouseProvider
from tether.providers.signalwire import SignalWireProvider
from tether.providers.telnyx import TelnyxProvider
from tether.providers.twilio import TwilioProvider


def test_each_provider_is_built_from_its_credentials() -> None:
    twilio = provider_for("twilio", {"account_sid": "AC1", "auth_token": "t"})
    assert isinstance(twilio, TwilioProvider)
    assert not twilio.supports_idempotency_key
    keyed = provider_for(
        "twilio", {"account_sid": "AC1", "api_key_sid": "SK1", "api_key_secret": "s"}
    )
    assert isinstance(keyed, TwilioProvider)
    signalwire = provider_for(
        "signalwire", {"project_id": "p", "api_token": "t", "space_url": "acme.signalwire.com"}
    )
    assert isinstance(signalwire, SignalWireProvider)
    assert signalwire.name == "signalwire"
    assert isinstance(provider_for("telnyx", {"api_key": "KEY"}), TelnyxProvider)
    signalhouse = provider_for("signalhouse", {"api_key": "jwt"})
    assert isinstance(signalhouse, SignalHouseProvider)
    assert signalhouse.supports_idempotency_key
    sandbox = provider_for(
        "sandbox",
        {"account_id": "a", "api_token": "t"},
        base_url="http://127.0.0.1:1",
        local_stage=True,
    )
    assert isinstance(sandbox, SandboxProvider)
    assert sandbox.supports_idempotency_key
    keyless = provider_for(
        "sandbox",
        {"account_id": "a", "api_token": "t", "base_url": "http://x", "idempotency_keys": "off"},
        local_stage=True,
    )
    assert not keyless.supports_idempotency_key


@pytest.mark.parametrize(
    ("provider", "credentials", "missing"),
    [
        ("twilio", {"auth_token": "t"}, "account_sid"),
        ("twilio", {"account_sid": "AC1", "api_key_sid": "SK1"}, "auth_token"),
        ("signalwire", {"project_id": "p", "api_token": "t"}, "space_url"),
        ("telnyx", {}, "api_key"),
        ("signalhouse", {"group_id": "G1"}, "api_key"),
        ("sandbox", {"account_id": "a", "api_token": "t"}, "base_url"),
    ],
)
def test_missing_credentials_are_an_auth_error_naming_the_keys(
    provider: str, credentials: dict[str, str], missing: str
) -> None:
    with pytest.raises(ProviderError) as raised:
        provider_for(provider, credentials, local_stage=True)
    assert raised.value.kind == ProviderErrorKind.AUTH
    assert missing in raised.value.reason


def test_an_unknown_provider_is_an_auth_error() -> None:
    with pytest.raises(ProviderError) as raised:
        provider_for("carrier-pigeon", {})
    assert raised.value.kind == ProviderErrorKind.AUTH
    assert "signalhouse" in raised.value.reason
