"""What the sandbox provider gets wrong on purpose, and how it says so.

A send meets a fault either because of its destination number (deterministic, for
tests) or by chance at a configured rate (a seeded RNG, for load and chaos runs). Each
fault answers like a real provider would: an HTTP status and an error code, except
TIMEOUT, which accepts the text and then answers too late (the ambiguous case: the text
is out but the caller never heard).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from tether.providers.sandbox import SandboxErrorCode


class SandboxFault(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    UNSUBSCRIBED = "unsubscribed"
    INVALID_NUMBER = "invalid_number"
    NOT_SMS_CAPABLE = "not_sms_capable"
    LANDLINE = "landline"
    FILTERED = "filtered"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    http_status: int
    code: SandboxErrorCode
    message: str


C = SandboxErrorCode

FAULT_ANSWERS: dict[SandboxFault, ErrorAnswer] = {
    SandboxFault.RATE_LIMITED: ErrorAnswer(429, C.RATE_LIMITED, "too many requests"),
    SandboxFault.SERVER_ERROR: ErrorAnswer(500, C.SERVER_ERROR, "internal error"),
    SandboxFault.UNSUBSCRIBED: ErrorAnswer(400, C.UNSUBSCRIBED, "recipient has opted out"),
    SandboxFault.INVALID_NUMBER: ErrorAnswer(400, C.INVALID_NUMBER, "'to' is not a valid number"),
    SandboxFault.NOT_SMS_CAPABLE: ErrorAnswer(400, C.NOT_SMS_CAPABLE, "'to' cannot receive SMS"),
    SandboxFault.LANDLINE: ErrorAnswer(400, C.LANDLINE, "'to' is a landline"),
    SandboxFault.FILTERED: ErrorAnswer(400, C.FILTERED, "message filtered by the carrier"),
    SandboxFault.REJECTED: ErrorAnswer(400, C.REJECTED, "message rejected"),
}

# Destination numbers that always meet a fault, like a provider's test numbers.
DEFAULT_FAULT_NUMBERS: dict[str, SandboxFault] = {
    "+15005550001": SandboxFault.INVALID_NUMBER,
    "+15005550002": SandboxFault.LANDLINE,
    "+15005550003": SandboxFault.NOT_SMS_CAPABLE,
    "+15005550004": SandboxFault.FILTERED,
    "+15005550005": SandboxFault.RATE_LIMITED,
    "+15005550006": SandboxFault.SERVER_ERROR,
    "+15005550007": SandboxFault.TIMEOUT,
    "+15005550008": SandboxFault.REJECTED,
    "+15005550009": SandboxFault.UNSUBSCRIBED,
}


class FaultPlan:
    """Decides the fault, if any, each send meets. Not thread-safe: the server calls it
    under its lock, so a seeded run draws the same faults in the same order."""

    def __init__(
        self,
        by_number: Mapping[str, SandboxFault],
        rates: Mapping[SandboxFault, float],
        seed: int,
    ) -> None:
        if sum(rates.values()) > 1.0 or any(rate < 0 for rate in rates.values()):
            raise ValueError("fault rates must be non-negative and add up to at most 1")
        self._by_number = dict(by_number)
        self._rates = list(rates.items())
        self._random = random.Random(seed)  # noqa: S311 - a simulation, not a secret

    def fault_for(self, to_number: str) -> SandboxFault | None:
        if to_number in self._by_number:
            return self._by_number[to_number]
        if not self._rates:
            return None
        draw = self._random.random()
        for fault, rate in self._rates:
            if draw < rate:
                return fault
            draw -= rate
        return None

    def jitter(self, upto: float) -> float:
        """A random extra latency, drawn from the same seeded sequence as the faults."""
        return self._random.uniform(0, upto)
