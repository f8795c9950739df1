"""The local sandbox provider: an HTTP server shaped like an SMS provider, for tests and
local runs. Not part of any Lambda function's work."""

from tether.providers.sandbox import SandboxErrorCode
from tether.sandbox.faults import DEFAULT_FAULT_NUMBERS, SandboxFault
from tether.sandbox.server import SandboxConfig, SandboxServer, SandboxText

__all__ = [
    "DEFAULT_FAULT_NUMBERS",
    "SandboxConfig",
    "SandboxErrorCode",
    "SandboxFault",
    "SandboxServer",
    "SandboxText",
]
