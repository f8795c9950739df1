"""The connection as repositories see it, scoped to one tenant per transaction."""

from __future__ import annotations

from uuid import UUID

from psycopg import Cursor
from psycopg.abc import Params, QueryNoTemplate
from psycopg.rows import DictRow

from tether.db.connection import Connection


class Session:
    """Sets ``app.tenant_id`` (transaction-local, so safe behind RDS Proxy) before the
    first statement of each transaction, and only then: a unit of work that commits and
    ends costs no extra round trip to re-scope a transaction nobody will use."""

    def __init__(self, conn: Connection, tenant_id: UUID | None) -> None:
        self.conn = conn
        self._tenant = str(tenant_id) if tenant_id is not None else None
        self._scoped = False

    def execute(self, query: QueryNoTemplate, params: Params | None = None) -> Cursor[DictRow]:
        if not self._scoped:
            if self._tenant is not None:
                self.conn.execute("SELECT set_config('app.tenant_id', %s, true)", (self._tenant,))
            self._scoped = True
        return self.conn.execute(query, params)

    def transaction_ended(self) -> None:
        self._scoped = False
