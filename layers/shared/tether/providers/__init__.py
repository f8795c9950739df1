"""SMS providers behind one door, `SmsProvider`: the adapters are the only modules that
speak a provider's HTTP API. Build one with `provider_for`.

`provider_for` (tether.providers.factory, with every adapter and urllib3) is imported on
first use: a function that only stores sends (inbound, timers, api, launch) never loads
the adapters, which cost its cold start about 40 ms."""

from typing import TYPE_CHECKING, Any

from tether.providers.base import (
    ProviderError,
    ProviderErrorKind,
    SendAccepted,
    SendCommand,
    SmsProvider,
)

if TYPE_CHECKING:
    from tether.providers.factory import provider_for

__all__ = [
    "ProviderError",
    "ProviderErrorKind",
    "SendAccepted",
    "SendCommand",
    "SmsProvider",
    "provider_for",
]


def __getattr__(name: str) -> Any:
    if name == "provider_for":
        from tether.providers.factory import provider_for

        return provider_for
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
