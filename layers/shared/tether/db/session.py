"""The connection as repositories see it, scoped to one tenant per transaction, and
the one place where driver errors become domain errors (tether.db.errors)."""

from __future__ import annotations

from uuid import UUID

from psycopg import Cursor
from psycopg.abc import Params, QueryNoTemplate
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow

from tether.db.connection import Connection
from tether.db.errors import translated_errors


class Session:
    """Sets ``app.tenant_id`` (transaction-local, so safe behind RDS Proxy) before the
    first statement of each transaction, sent with it in one round trip, and only then:
    a unit of work that commits and ends costs nothing to re-scope a transaction nobody
    will use.

    Every statement, commit and rollback raises domain errors, never the driver's:
    a broken constraint is a Conflict or a ConstraintViolation, a value the database
    cannot store is InvalidValue, a database that does not answer is
    DependencyUnavailable (see `to_domain_error`). A repository needs no handling of
    its own."""

    def __init__(self, conn: Connection, tenant_id: UUID | None) -> None:
        self.conn = conn
        self._tenant = str(tenant_id) if tenant_id is not None else None
        self._scoped = False
        self._later: list[tuple[QueryNoTemplate, Params | None]] = []

    def execute(self, query: QueryNoTemplate, params: Params | None = None) -> Cursor[DictRow]:
        with translated_errors():
            if (self._scoped or self._tenant is None) and not self._later:
                self._scoped = True
                return self.conn.execute(query, params)
            # The scope (and any statement left for later) go with this statement
            # (psycopg's pipeline mode): one round trip, not several. They still run
            # first, in order, in the same transaction; an error in any raises here.
            with self.conn.pipeline():
                self._send_pending()
                cursor = self.conn.execute(query, params)
            return cursor

    def execute_later(self, query: QueryNoTemplate, params: Params | None = None) -> None:
        """A statement whose answer nobody reads (no rows, no row count): sent with the
        transaction's next statement or with its COMMIT, in their round trip, in order.
        Its error raises there; a rollback drops it with the rest."""
        self._later.append((query, params))

    def _send_pending(self) -> None:
        """In a pipeline: the tenant's scope if the transaction has none yet, then the
        statements left for later."""
        if not self._scoped and self._tenant is not None:
            self.conn.execute("SELECT set_config('app.tenant_id', %s, true)", (self._tenant,))
        self._scoped = True
        later, self._later = self._later, []
        for query, params in later:
            self.conn.execute(query, params)

    def execute_alone(self, query: QueryNoTemplate, params: Params | None = None) -> list[DictRow]:
        """`query` as a transaction of its own, committed by the server as it ends
        (autocommit for this one statement): one round trip where a statement and its
        COMMIT take two, and as durable. Only between transactions (a RuntimeError
        otherwise), and only for a statement that scopes itself to its tenant, as
        claim_lease does: no set_config goes before it (row-level security would let an
        unscoped statement see nothing)."""
        if self.conn.info.transaction_status != TransactionStatus.IDLE or self._later:
            raise RuntimeError("execute_alone: a transaction is open; it runs only between them")
        self._scoped = False
        with translated_errors():
            self.conn.autocommit = True
            try:
                return self.conn.execute(query, params).fetchall()
            finally:
                self.conn.autocommit = False

    def commit(self) -> None:
        try:
            with translated_errors():
                if not self._later:
                    self.conn.commit()
                    return
                # the statements left for later and the COMMIT in one round trip (the
                # COMMIT as a statement: the pipeline's one Sync then ends it all)
                with self.conn.pipeline():
                    self._send_pending()
                    self.conn.execute("COMMIT")
        finally:
            self.transaction_ended()

    def rollback(self) -> None:
        try:
            with translated_errors():
                self.conn.rollback()
        finally:
            self.transaction_ended()

    def transaction_ended(self) -> None:
        self._scoped = False
        self._later = []
