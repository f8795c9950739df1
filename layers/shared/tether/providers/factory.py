"""One provider adapter from a provider name and a credentials mapping.

Outside the local stage, `base_url` and `space_url` must name the provider's own API
host and the sandbox is refused (tether.domain.provider_endpoints).

The mapping is what a provider account's send-credentials secret holds (resolving the
secret reference is done elsewhere). Keys per provider:

| provider | required keys | optional keys | `base_url` overrides |
| --- | --- | --- | --- |
| ``twilio`` | ``account_sid`` and either ``auth_token`` or ``api_key_sid`` + ``api_key_secret`` | | the API root, ``https://api.twilio.com/2010-04-01`` |
| ``signalwire`` | ``project_id``, ``api_token``, ``space_url`` (``example.signalwire.com``) | | the space URL |
| ``telnyx`` | ``api_key`` | | the API root, ``https://api.telnyx.com/v2`` |
| ``signalhouse`` | ``api_key`` | ``group_id`` (needed by `find_sent`) | the API root, ``https://v2.signalhouse.io`` |
| ``sandbox`` (local stage only) | ``account_id``, ``api_token``, and ``base_url`` here or as an argument | ``idempotency_keys``: ``off`` | the sandbox server's URL |
"""

from __future__ import annotations

from collections.abc import Mapping

from tether.domain.provider_endpoints import EndpointRefused, check_provider_endpoints
from tether.providers.base import ProviderError, ProviderErrorKind, SmsProvider
from tether.providers.sandbox import SandboxProvider
from tether.providers.signalhouse import SIGNALHOUSE_API_URL, SignalHouseProvider
from tether.providers.signalwire import SignalWireProvider
from tether.providers.telnyx import TELNYX_API_URL, TelnyxProvider
from tether.providers.twilio import TWILIO_API_URL, TwilioProvider

PROVIDERS = ("twilio", "signalwire", "telnyx", "signalhouse", "sandbox")


def provider_for(
    provider: str,
    credentials: Mapping[str, str],
    base_url: str | None = None,
    *,
    local_stage: bool = False,
) -> SmsProvider:
    """The adapter for `provider` with `credentials`; a ProviderError of kind AUTH names
    an unknown provider, the missing keys or a host this stage does not send to
    (tether.domain.provider_endpoints), since an operator has to fix any of them."""
    try:
        endpoints = {**credentials, **({"base_url": base_url} if base_url else {})}
        check_provider_endpoints(provider, endpoints, local_stage=local_stage)
    except EndpointRefused as error:
        raise ProviderError(provider, ProviderErrorKind.AUTH, str(error)) from error
    if provider == "twilio":
        _require(provider, credentials, "account_sid")
        if not credentials.get("auth_token") and not (
            credentials.get("api_key_sid") and credentials.get("api_key_secret")
        ):
            raise _missing(provider, ["auth_token (or api_key_sid and api_key_secret)"])
        return TwilioProvider(
            credentials["account_sid"],
            credentials.get("auth_token"),
            api_key_sid=credentials.get("api_key_sid"),
            api_key_secret=credentials.get("api_key_secret"),
            api_url=base_url or TWILIO_API_URL,
        )
    if provider == "signalwire":
        _require(
            provider, credentials, "project_id", "api_token", *([] if base_url else ["space_url"])
        )
        return SignalWireProvider(
            credentials["project_id"],
            credentials["api_token"],
            base_url or credentials["space_url"],
        )
    if provider == "telnyx":
        _require(provider, credentials, "api_key")
        return TelnyxProvider(credentials["api_key"], api_url=base_url or TELNYX_API_URL)
    if provider == "signalhouse":
        _require(provider, credentials, "api_key")
        return SignalHouseProvider(
            credentials["api_key"],
            group_id=credentials.get("group_id") or None,
            api_url=base_url or SIGNALHOUSE_API_URL,
        )
    if provider == "sandbox":
        _require(
            provider, credentials, "account_id", "api_token", *([] if base_url else ["base_url"])
        )
        return SandboxProvider(
            base_url or credentials["base_url"],
            credentials["account_id"],
            credentials["api_token"],
            supports_idempotency_key=credentials.get("idempotency_keys", "on") != "off",
        )
    raise ProviderError(
        provider,
        ProviderErrorKind.AUTH,
        f"unknown provider; expected one of {', '.join(PROVIDERS)}",
    )


def _require(provider: str, credentials: Mapping[str, str], *keys: str) -> None:
    missing = [key for key in keys if not credentials.get(key)]
    if missing:
        raise _missing(provider, missing)


def _missing(provider: str, keys: list[str]) -> ProviderError:
    return ProviderError(provider, ProviderErrorKind.AUTH, f"credentials lack {', '.join(keys)}")


def classify_error(
    provider: str, code: str | None, http_status: int | None = None
) -> ProviderErrorKind:
    """What a provider's error code means, for a send's answer or a status callback."""
    from tether.providers.sandbox import classify_sandbox_error
    from tether.providers.signalhouse import classify_signalhouse_error
    from tether.providers.signalwire import classify_signalwire_error
    from tether.providers.telnyx import classify_telnyx_error
    from tether.providers.twilio import classify_twilio_error

    classifiers = {
        "twilio": classify_twilio_error,
        "signalwire": classify_signalwire_error,
        "telnyx": classify_telnyx_error,
        "signalhouse": classify_signalhouse_error,
        "sandbox": classify_sandbox_error,
    }
    classify = classifiers.get(provider)
    return classify(http_status, code) if classify else ProviderErrorKind.REJECTED
