"""The local sandbox provider: an HTTP server shaped like an SMS provider, for tests and
local runs. Not part of any Lambda function's work."""

from tether.providers.sandbox import SandboxErrorCode
from tether_dev.sandbox.faults import DEFAULT_FAULT_NUMBERS, SandboxFault
from tether_dev.sandbox.server import SandboxConfig, SandboxServer, SandboxText

__all__ = [
    "DEFAULT_FAULT_NUMBERS",
    "SandboxConfig",
    "SandboxErrorCode",
    "SandboxFault",
    "SandboxServer",
    "SandboxText",
]
