"""API keys: how one is made, shown once and recognised by its hash alone."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "tth_"
PREFIX_LENGTH = 12  # what lists show of a key: enough to tell keys apart, useless to use
_SECRET_BYTES = 32
MAX_KEY_LENGTH = 200


class Scope(StrEnum):
    """What a key may do, each including the ones before it: `read` (GETs), `write`
    (a day's work: campaigns, leads, sends, leases), `admin` (keys, settings, provider
    accounts, escalation steps, the audit log). The same order is in migration 0019."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Scope) -> bool:
        """A key of this scope may call a route that needs `needed`."""
        return self.rank >= needed.rank


_RANKS = {Scope.READ: 1, Scope.WRITE: 2, Scope.ADMIN: 3}


def may_issue(issuer: Scope, wanted: Scope) -> bool:
    """A key issues keys of at most its own scope: a leaked key cannot mint a stronger one."""
    return issuer.allows(wanted)


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # shown to its owner once, never stored
    prefix: str
    key_hash: bytes


def generate_key() -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
    return NewKey(key, key[:PREFIX_LENGTH], hash_key(key))


def hash_key(key: str) -> bytes:
    """SHA-256 of the key. A key holds 256 random bits, so no slow hash is needed: there
    is nothing to guess from a leaked hash."""
    return hashlib.sha256(key.encode()).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None when there is none
    or it is not of that form."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return well_formed_key(token.strip())


def well_formed_key(token: str | None) -> str | None:
    """`token` when it has the form of a key (the prefix, printable ASCII, not too
    long), else None: a header's key, or a WebSocket's ``api_key`` query parameter."""
    if not token or len(token) > MAX_KEY_LENGTH:
        return None
    if not token.startswith(KEY_PREFIX) or not token.isascii() or not token.isprintable():
        return None
    return token
