"""A tenant's account with an SMS provider, as far as receiving its webhooks goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    id: UUID
    tenant_id: UUID
    provider: str
    signing_secret_ref: str | None
    previous_signing_secret_ref: str | None = None
    previous_secret_expires_at: datetime | None = None

    def signing_secret_refs(self, now: datetime) -> list[str]:
        """The references of every secret a webhook may be signed with at `now`: the
        current one, and during a rotation's grace period the previous one too."""
        refs = [self.signing_secret_ref] if self.signing_secret_ref else []
        if (
            self.previous_signing_secret_ref
            and self.previous_secret_expires_at is not None
            and now < self.previous_secret_expires_at
        ):
            refs.append(self.previous_signing_secret_ref)
        return refs
