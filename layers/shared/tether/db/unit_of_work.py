"""The unit of work: one transaction, one door to the database for the services.

A unit of work made for a tenant sets ``app.tenant_id`` on its transaction
(``set_config(..., true)``: transaction-local, so safe behind RDS Proxy), and row-level
security confines every statement to that tenant. One made without a tenant is for the
jobs role, which works across tenants.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self
from uuid import UUID

from tether.db.connection import Connection, ConnectionSource
from tether.db.errors import translated_errors
from tether.db.repositories import LeadEventRepository, LeadRepository, TenantRepository
from tether.db.webhook_repositories import (
    AuditLogRepository,
    ProviderAccountRepository,
    WebhookReceiptRepository,
)


class UnitOfWork:
    leads: LeadRepository
    lead_events: LeadEventRepository
    tenants: TenantRepository
    provider_accounts: ProviderAccountRepository
    webhook_receipts: WebhookReceiptRepository
    audit_log: AuditLogRepository

    def __init__(self, connections: ConnectionSource, tenant_id: UUID | None = None) -> None:
        self._connections = connections
        self.tenant_id = tenant_id
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        conn = self._connections.acquire()
        self._conn = conn
        if self.tenant_id is not None:
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(self.tenant_id),))
        self.leads = LeadRepository(conn)
        self.lead_events = LeadEventRepository(conn)
        self.tenants = TenantRepository(conn)
        self.provider_accounts = ProviderAccountRepository(conn)
        self.webhook_receipts = WebhookReceiptRepository(conn)
        self.audit_log = AuditLogRepository(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not conn.closed:
                conn.rollback()  # nothing after the last commit survives
        finally:
            self._connections.release(conn)

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open")
        return self._conn

    def commit(self) -> None:
        with translated_errors():
            self.connection.commit()
        if self.tenant_id is not None:
            # the next transaction of this unit of work is scoped to the same tenant
            self.connection.execute(
                "SELECT set_config('app.tenant_id', %s, true)", (str(self.tenant_id),)
            )

    def rollback(self) -> None:
        self.connection.rollback()
