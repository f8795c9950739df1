"""Erasure on request (CCPA/GDPR, issue 19): what identifies the person, and what an
erasure cleared. Pure; tether.services.erasure writes it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

# Shorter names than this are not searched for in shared logs (an "Al" would match
# "Already"); they are still cleared from the lead itself.
MIN_NAME_LENGTH = 3


def phone_hash(tenant_id: UUID, phone: str) -> str:
    """sha256 over tenant id and E.164, as migration 0028's suppression_phone_hash."""
    return hashlib.sha256(f"{tenant_id}:{phone}".encode()).hexdigest()


def needles(phone: str, names: Iterable[str | None], emails: Iterable[str | None]) -> list[str]:
    """The strings that identify the person in free text and JSON: the number as E.164
    and as its digits (a URL-encoded "+" leaves the digits), emails, and names long
    enough to be specific."""
    found = {phone, phone.lstrip("+")}
    found.update(email for email in emails if email)
    found.update(name.strip() for name in names if name and len(name.strip()) >= MIN_NAME_LENGTH)
    return sorted(found)


@dataclass(frozen=True, slots=True)
class ErasedPerson:
    """The leads that carry the number, with what identifies them."""

    lead_ids: list[UUID]
    names: list[str | None]
    emails: list[str | None]


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What one erasure cleared, by kind of record; zeros when it was done before."""

    phone_hash: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def erased_anything(self) -> bool:
        return any(self.counts.values())
