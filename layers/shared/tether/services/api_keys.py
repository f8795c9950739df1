"""Who is calling the API: tenants, their API keys, and the key a request presents.

A key is shown once, when it is made; only its SHA-256 is stored. A request's key is
looked up before its tenant is known (migration 0015's narrow policy), and everything
after runs as that tenant, so row-level security does the isolation.

Each key has a scope (read, write, admin) and records the key that issued it. Failed
lookups are counted per source address and minute (migration 0019): past
`FAILURES_PER_MINUTE` the source is refused with 429 until the minute is over, whatever
key it sends. A failed lookup is logged without any character of the key presented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.api_keys import Scope, generate_key, hash_key, may_issue
from tether.domain.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyFailures,
    Unauthenticated,
)
from tether.domain.model import ApiKeyRecord
from tether.domain.pagination import Page, Position, page_of
from tether.observability import logger, metrics


@dataclass(frozen=True, slots=True)
class Principal:
    """The tenant a request acts for, and the key it came with."""

    tenant_id: UUID
    key_id: UUID
    scope: Scope = Scope.ADMIN


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: UUID
    name: str
    prefix: str
    scope: Scope
    key: str  # the only time the key is seen
    created_at: datetime
    created_by_key_id: UUID | None = None


# Failed lookups a source may make in a minute before it is refused (429) for the rest
# of that minute. A person mistyping a key stays far below; a guesser does not.
FAILURES_PER_MINUTE = 20


def authenticate(
    uow: UnitOfWork, key: str | None, now: datetime, source: str = "unknown"
) -> Principal:
    """The principal of a request's API key, or Unauthenticated (TooManyFailures when
    `source` failed too often this minute). Notes the key's use. `uow` is one without a
    tenant: the key's tenant is what this finds out."""
    minute = now.replace(second=0, microsecond=0)
    source = source[:100] or "unknown"
    with uow:
        failures = uow.auth_failures.failures(source, minute)
        if failures >= FAILURES_PER_MINUTE:
            metrics.add_metric(name="ApiThrottled", unit="Count", value=1)
            raise TooManyFailures(_retry_after(now, minute))
        found = uow.api_keys.find_live(hash_key(key)) if key is not None else None
        if found is None:
            failures = uow.auth_failures.count(source, minute)
        else:
            uow.api_keys.touch_as_tenant(found.tenant_id, found.id, now)
        uow.commit()
        if found is None:
            metrics.add_metric(name="ApiUnauthenticated", unit="Count", value=1)
            # never a character of the key: a near-miss of a real key is most of that key
            logger.warning(
                "API key refused",
                extra={"source": source, "failures_this_minute": failures, "key_sent": bool(key)},
            )
            if key is None:
                raise Unauthenticated("send the API key as 'Authorization: Bearer <key>'")
            raise Unauthenticated("the API key is unknown or revoked")
    logger.append_keys(tenant_id=str(found.tenant_id), api_key_id=str(found.id))
    return Principal(found.tenant_id, found.id, Scope(found.scope))


def _retry_after(now: datetime, minute: datetime) -> int:
    return max(1, int((minute + timedelta(minutes=1) - now).total_seconds() + 0.999))


def create_tenant(uow: UnitOfWork, name: str) -> tuple[UUID, IssuedKey]:
    """A tenant, its default configuration and its first API key (`uow` of the jobs role,
    without a tenant: a tenant has no tenant to act as before it exists)."""
    name = name.strip()
    if not name:
        raise InvalidInput("the tenant needs a name")
    with uow:
        tenant_id = uow.tenants.create(name)
        issued = _add_key(uow, tenant_id, "first key", Scope.ADMIN, None)
        _audit_operator_issue(uow, tenant_id, issued)
        uow.commit()
    logger.info("tenant created", extra={"tenant_id": str(tenant_id)})
    return tenant_id, issued


def issue_key(uow: UnitOfWork, issuer: Principal, name: str, scope: Scope) -> IssuedKey:
    """Another key of the issuer's tenant, of at most the issuer's scope, audited."""
    if not may_issue(issuer.scope, scope):
        raise Forbidden(f"a {issuer.scope} key cannot issue a {scope} key")
    with uow:
        issued = _add_key(uow, issuer.tenant_id, name, scope, issuer.key_id)
        uow.audit.record(
            "api_key_issued",
            tenant_id=issuer.tenant_id,
            actor=f"api_key:{issuer.key_id}",
            subject_type="api_key",
            subject_id=str(issued.id),
            detail={"scope": scope.value, "created_by_key_id": str(issuer.key_id)},
        )
        uow.commit()
    logger.info("API key issued", extra={"api_key_id": str(issued.id), "scope": scope.value})
    return issued


def issue_operator_key(uow: UnitOfWork, tenant_id: UUID, name: str) -> IssuedKey:
    """An admin key issued by whoever holds the database (the local stack's banner), not
    by a key: like the tenant's first key, it has no issuer."""
    with uow:
        issued = _add_key(uow, tenant_id, name, Scope.ADMIN, None)
        _audit_operator_issue(uow, tenant_id, issued)
        uow.commit()
    return issued


def _audit_operator_issue(uow: UnitOfWork, tenant_id: UUID, issued: IssuedKey) -> None:
    uow.audit.record(
        "api_key_issued",
        tenant_id=tenant_id,
        actor="operator",
        subject_type="api_key",
        subject_id=str(issued.id),
        detail={"scope": issued.scope.value, "created_by_key_id": ""},
    )


def revoke_key(
    uow: UnitOfWork, revoker: Principal, key_id: UUID, now: datetime, descendants: bool = False
) -> ApiKeyRecord:
    """Revoke a key of the tenant at once: its next request is refused. With
    `descendants`, every key it issued (and they issued) goes too; either way the audit
    rows keep the lineage."""
    with uow:
        key = uow.api_keys.revoke(key_id, now)
        if key is None:
            raise NotFound("API key", key_id)
        descendants_revoked = uow.api_keys.revoke_descendants(key_id, now) if descendants else []
        for revoked in [key, *descendants_revoked]:
            uow.audit.record(
                "api_key_revoked",
                tenant_id=revoker.tenant_id,
                actor=f"api_key:{revoker.key_id}",
                subject_type="api_key",
                subject_id=str(revoked.id),
                detail={
                    "scope": revoked.scope,
                    "created_by_key_id": str(revoked.created_by_key_id or ""),
                    "with_descendants_of": str(key_id) if revoked is not key else "",
                },
            )
        uow.commit()
    logger.info(
        "API key revoked", extra={"api_key_id": str(key_id), "keys": 1 + len(descendants_revoked)}
    )
    return key


def list_keys(uow: UnitOfWork, after: Position | None, limit: int) -> Page[dict[str, Any]]:
    with uow:
        rows = uow.api_keys.page(after, limit)
    return page_of(rows, limit, lambda r: (r["created_at"], r["id"]))


def _add_key(
    uow: UnitOfWork, tenant_id: UUID, name: str, scope: Scope, created_by: UUID | None
) -> IssuedKey:
    new = generate_key()
    key = uow.api_keys.add(tenant_id, name, new.prefix, new.key_hash, scope.value, created_by)
    return IssuedKey(key.id, key.name, key.prefix, scope, new.key, key.created_at, created_by)
