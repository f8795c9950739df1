"""Idempotency-Key on the API's creating POSTs: the request is carried out once per
(tenant, key); a repeat gets the first response back; the same key with another
request is refused (409), as is a repeat while the first is still running."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import IdempotencyKeyReused, InProgress

# A claim with no response this old is a request that died: the key may be used again.
STALE_CLAIM = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any


def request_fingerprint(method: str, path: str, body: str | None) -> str:
    return hashlib.sha256(f"{method}\n{path}\n{body or ''}".encode()).hexdigest()


def begin(
    uow: UnitOfWork, tenant_id: UUID, key: str, fingerprint: str, now: datetime
) -> StoredResponse | None:
    """None: the key is this request's now, go ahead. Else the first response."""
    with uow:
        record = uow.idempotency.claim(tenant_id, key, fingerprint, now - STALE_CLAIM)
        uow.commit()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with another request; use a new key"
        )
    if record.completed_at is None or record.status_code is None:
        raise InProgress("a request with this Idempotency-Key is still being handled")
    return StoredResponse(record.status_code, record.response)


def finish(uow: UnitOfWork, tenant_id: UUID, key: str, status_code: int, body: Any) -> None:
    with uow:
        uow.idempotency.complete(tenant_id, key, status_code, body)
        uow.commit()


def abandon(uow: UnitOfWork, tenant_id: UUID, key: str) -> None:
    """The request failed: the key is free for a retry."""
    with uow:
        uow.idempotency.release(tenant_id, key)
        uow.commit()
