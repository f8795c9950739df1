"""Driver errors to domain errors, in one table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg

from tether.domain.errors import BindingViolation, Conflict, ConstraintViolation

# Constraints and trigger checks that guard the hard rule (migrations 0003 and 0004).
BINDING_CONSTRAINTS = frozenset(
    {
        "messages_outbound_bound",
        "messages_bound_to_assignment",
        "messages_binding_immutable",
        "campaign_phone_assignments_immutable",
    }
)


def to_domain_error(error: psycopg.Error) -> Exception:
    """The domain error for a database refusal; other errors are returned unchanged."""
    constraint = error.diag.constraint_name
    message = error.diag.message_primary or str(error)
    if constraint in BINDING_CONSTRAINTS:
        return BindingViolation(constraint, message)
    if isinstance(error, pg.UniqueViolation):
        return Conflict(constraint, message)
    if isinstance(error, pg.IntegrityError):
        return ConstraintViolation(constraint, message)
    return error


@contextmanager
def translated_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as error:
        domain_error = to_domain_error(error)
        if domain_error is error:
            raise
        raise domain_error from error
