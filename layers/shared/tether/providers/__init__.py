"""SMS providers behind one door, `SmsProvider`: the adapters are the only modules that
speak a provider's HTTP API. Build one with `provider_for`."""

from tether.providers.base import (
    ProviderError,
    ProviderErrorKind,
    SendAccepted,
    SendCommand,
    SmsProvider,
)
from tether.providers.factory import provider_for

__all__ = [
    "ProviderError",
    "ProviderErrorKind",
    "SendAccepted",
    "SendCommand",
    "SmsProvider",
    "provider_for",
]
