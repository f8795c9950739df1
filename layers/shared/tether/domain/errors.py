"""Typed errors of the domain. Adapters raise these `from` driver errors; one table maps
them to HTTP status codes at the edge."""

from __future__ import annotations

from uuid import UUID


class TetherError(Exception):
    """Base of every error Tether raises on purpose."""


class InvalidInput(TetherError):
    """Input from a client or a provider that cannot be accepted as it is."""


class InvalidPhoneNumber(InvalidInput):
    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid phone number {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


class InvalidSendKey(InvalidInput):
    pass


class InvalidValue(InvalidInput):
    """A value the database refused to store: out of its column's range, or not
    representable in its type (a driver DataError, translated by the session)."""


class RequestRejected(InvalidInput):
    """A request refused as it was sent (its method, size, media type, encoding,
    signature or payload), before anything ran. `reason` says why in words the sender
    can act on; `kind` names the refusal in audit rows and metrics; `tenant_id` is set
    once the caller's tenant is known."""

    kind = "rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tenant_id: UUID | None = None


class MethodNotAllowed(RequestRejected):
    kind = "method_not_allowed"


class PayloadTooLarge(RequestRejected):
    kind = "payload_too_large"


class UnsupportedMediaType(RequestRejected):
    """A body in a media type the route does not take."""

    kind = "unsupported_media_type"


class MalformedBody(RequestRejected):
    """A body the API cannot read as JSON within its limits (encoding, depth, numbers)."""

    kind = "malformed_body"


class ConsentRequired(InvalidInput):
    """The tenant requires consent (require_consent) and the phone has none in force."""


class InvalidTransition(TetherError):
    """A lead state change the state machine does not allow."""

    def __init__(self, current: str, target: str, detail: str | None = None) -> None:
        message = f"a lead cannot move from {current} to {target}"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.current = current
        self.target = target


class NotFound(TetherError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind
        self.key = key


class ConstraintViolation(TetherError):
    """The database refused a write because it would break one of its invariants."""

    def __init__(self, constraint: str | None, message: str) -> None:
        super().__init__(message)
        self.constraint = constraint


class BindingViolation(ConstraintViolation):
    """An outbound message was not bound to its campaign assignment's number, or a
    binding was about to change after insert (the hard rule)."""


class Conflict(ConstraintViolation):
    """A unique key is already taken (a duplicate send, receipt, event or lease)."""


class PoolExhausted(TetherError):
    """No number of the pool is free to lease (all leased or resting)."""

    def __init__(self, pool: str) -> None:
        super().__init__(
            f"pool {pool!r} has no free number: every number is leased, resting or retired"
        )
        self.pool = pool


class NoFreeNumber(TetherError):
    """Staging found fewer free numbers in the campaign's pool than it needs."""

    def __init__(self, pool: str, needed: int, found: int) -> None:
        super().__init__(f"pool {pool!r} has {found} free number(s); staging needs {needed}")
        self.pool = pool
        self.needed = needed
        self.found = found


class SenderUnavailable(TetherError):
    """The lead's bound sender cannot send (retired) or the campaign has no usable number.
    A bound lead moves only through an explicit re-home."""


class InProgress(TetherError):
    """The same request is being handled right now; the caller may retry shortly."""


class IdempotencyKeyReused(InvalidInput):
    """An idempotency key came back with different content than it was first used with."""


class DependencyUnavailable(TetherError):
    """A service Tether depends on (database, queue, idempotency store, secrets) did not
    answer. Nothing was changed on its account; the caller may retry."""

    def __init__(self, dependency: str, detail: str | None = None) -> None:
        super().__init__(f"{dependency} is unavailable" + (f": {detail}" if detail else ""))
        self.dependency = dependency


class ConfigurationError(TetherError):
    """Tether is set up wrongly (a malformed secret reference, say): no request can fix it."""


class Unauthenticated(TetherError):
    """A request without a valid API key (missing, malformed, unknown or revoked)."""


class InvalidState(TetherError):
    """The request does not fit the resource's current state (launching a campaign that
    was never staged, assigning a reply that was assigned already): a conflict."""


class Forbidden(TetherError):
    """The request's key is valid but its scope does not cover what it asked for."""


class TooManyFailures(TetherError):
    """The request's source failed too many key lookups this minute."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "too many failed API key lookups from this address; retry after"
            f" {retry_after_seconds} s"
        )
        self.retry_after_seconds = retry_after_seconds
