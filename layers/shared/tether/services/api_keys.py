"""Who is calling the API: tenants, their API keys, and the key a request presents.

A key is shown once, when it is made; only its SHA-256 is stored. A request's key is
looked up before its tenant is known (migration 0015's narrow policy), and everything
after runs as that tenant, so row-level security does the isolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.connection import ConnectionSource
from tether.db.unit_of_work import UnitOfWork
from tether.domain.api_keys import generate_key, hash_key
from tether.domain.errors import InvalidInput, NotFound, Unauthenticated
from tether.domain.pagination import Page, Position, page_of
from tether.observability import logger, metrics


@dataclass(frozen=True, slots=True)
class Principal:
    """The tenant a request acts for, and the key it came with."""

    tenant_id: UUID
    key_id: UUID


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: UUID
    name: str
    prefix: str
    key: str  # the only time the key is seen
    created_at: datetime


def authenticate(connections: ConnectionSource, key: str | None, now: datetime) -> Principal:
    """The principal of a request's API key, or Unauthenticated. Notes the key's use."""
    if key is None:
        metrics.add_metric(name="ApiUnauthenticated", unit="Count", value=1)
        raise Unauthenticated("send the API key as 'Authorization: Bearer <key>'")
    with UnitOfWork(connections) as uow:
        row = uow.api_keys.find_live(hash_key(key))
        if row is None:
            metrics.add_metric(name="ApiUnauthenticated", unit="Count", value=1)
            logger.warning("unknown or revoked API key", extra={"prefix": key[:12]})
            raise Unauthenticated("the API key is unknown or revoked")
        uow.api_keys.touch_as_tenant(row["tenant_id"], row["id"], now)
        uow.commit()
    logger.append_keys(tenant_id=str(row["tenant_id"]), api_key_id=str(row["id"]))
    return Principal(row["tenant_id"], row["id"])


def create_tenant(connections: ConnectionSource, name: str) -> tuple[UUID, IssuedKey]:
    """A tenant, its default configuration and its first API key (jobs role: a tenant
    has no tenant to act as before it exists)."""
    name = name.strip()
    if not name:
        raise InvalidInput("the tenant needs a name")
    with UnitOfWork(connections) as uow:
        tenant_id = uow.tenants.create(name)
        issued = _add_key(uow, tenant_id, "first key")
        uow.commit()
    logger.info("tenant created", extra={"tenant_id": str(tenant_id)})
    return tenant_id, issued


def issue_key(uow: UnitOfWork, tenant_id: UUID, name: str) -> IssuedKey:
    issued = _add_key(uow, tenant_id, name)
    uow.commit()
    logger.info("API key issued", extra={"api_key_prefix": issued.prefix})
    return issued


def revoke_key(uow: UnitOfWork, key_id: UUID, now: datetime) -> dict[str, Any]:
    """Revoke a key of the tenant at once: its next request is refused."""
    row = uow.api_keys.revoke(key_id, now)
    if row is None:
        raise NotFound("API key", key_id)
    uow.commit()
    logger.info("API key revoked", extra={"api_key_prefix": row["prefix"]})
    return row


def list_keys(uow: UnitOfWork, after: Position | None, limit: int) -> Page[dict[str, Any]]:
    rows = uow.api_keys.page(after, limit)
    return page_of(rows, limit, lambda r: (r["created_at"], r["id"]))


def _add_key(uow: UnitOfWork, tenant_id: UUID, name: str) -> IssuedKey:
    new = generate_key()
    row = uow.api_keys.add(tenant_id, name, new.prefix, new.key_hash)
    return IssuedKey(row["id"], row["name"], row["prefix"], new.key, row["created_at"])
