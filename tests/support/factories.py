"""Rows for integration tests, written as the schema owner (seeding is not under test)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tether.db.connection import Connection, as_role


@dataclass(frozen=True)
class MigratedDatabase:
    server_url: str
    admin_url: str

    def role_url(self, role: str) -> str:
        return as_role(self.admin_url, role)


@dataclass(frozen=True)
class Chain:
    """One tenant's campaign → assignment → number → lead, ready for messages."""

    tenant_id: uuid.UUID
    provider_account_id: uuid.UUID
    number_id: uuid.UUID
    number: str
    campaign_id: uuid.UUID
    assignment_id: uuid.UUID
    lead_id: uuid.UUID
    lead_phone: str
    pool: str


_counter = iter(range(10**9))


# what a HELP reply names, so a test's tenant may launch (migration 0028)
HELP_IDENTITY: dict[str, object] = {"brand_name": "Acme Outreach", "help_contact": "help@acme.test"}


def unique_number() -> str:
    """A valid, unique US number (555-01XX style ranges are not valid; use 650/415)."""
    n = next(_counter) + os.getpid() * 1000
    return f"+1650{2000000 + n % 7999999:07d}"


def make_chain(admin: Connection, *, pool: str = "Broker Co") -> Chain:
    tenant_id = admin.execute(
        "INSERT INTO tenants (name) VALUES (%s) RETURNING id", (f"tenant-{uuid.uuid4().hex[:6]}",)
    ).fetchone()["id"]  # type: ignore[index]
    admin.execute(
        "INSERT INTO tenant_config (tenant_id, brand_name, help_contact) VALUES (%s, %s, %s)",
        (tenant_id, *HELP_IDENTITY.values()),
    )
    account_id = admin.execute(
        "INSERT INTO provider_accounts (tenant_id, provider, name) VALUES (%s, 'sandbox', 'main') RETURNING id",
        (tenant_id,),
    ).fetchone()["id"]  # type: ignore[index]
    number = unique_number()
    number_id = add_number(admin, tenant_id, account_id, number, pool)
    campaign_id = admin.execute(
        "INSERT INTO campaigns (tenant_id, name, pool) VALUES (%s, %s, %s) RETURNING id",
        (tenant_id, f"campaign-{uuid.uuid4().hex[:6]}", pool),
    ).fetchone()["id"]  # type: ignore[index]
    assignment_id = admin.execute(
        "INSERT INTO campaign_phone_assignments (tenant_id, campaign_id, phone_number_id, phone_number)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (tenant_id, campaign_id, number_id, number),
    ).fetchone()["id"]  # type: ignore[index]
    lead_phone = unique_number()
    lead_id = admin.execute(
        "INSERT INTO leads (tenant_id, campaign_id, phone) VALUES (%s, %s, %s) RETURNING id",
        (tenant_id, campaign_id, lead_phone),
    ).fetchone()["id"]  # type: ignore[index]
    return Chain(
        tenant_id,
        account_id,
        number_id,
        number,
        campaign_id,
        assignment_id,
        lead_id,
        lead_phone,
        pool,
    )


def add_number(
    admin: Connection, tenant_id: uuid.UUID, account_id: uuid.UUID, e164: str, pool: str
) -> uuid.UUID:
    row = admin.execute(
        "INSERT INTO phone_numbers (tenant_id, provider_account_id, e164, pool) VALUES (%s, %s, %s, %s) RETURNING id",
        (tenant_id, account_id, e164, pool),
    ).fetchone()
    assert row is not None
    number_id: uuid.UUID = row["id"]
    return number_id


def add_lead(admin: Connection, chain: Chain) -> uuid.UUID:
    row = admin.execute(
        "INSERT INTO leads (tenant_id, campaign_id, phone) VALUES (%s, %s, %s) RETURNING id",
        (chain.tenant_id, chain.campaign_id, unique_number()),
    ).fetchone()
    assert row is not None
    lead_id: uuid.UUID = row["id"]
    return lead_id


def as_tenant(conn: Connection, tenant_id: uuid.UUID) -> Connection:
    """Scope `conn`'s current transaction to `tenant_id`, as the unit of work does."""
    conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
    return conn


def outbound_values(chain: Chain, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "tenant_id": chain.tenant_id,
        "direction": "outbound",
        "lead_id": chain.lead_id,
        "campaign_id": chain.campaign_id,
        "from_address": chain.number,
        "to_address": chain.lead_phone,
        "outbound_number_id": chain.number_id,
        "campaign_phone_assignment_id": chain.assignment_id,
        "send_key": f"{chain.lead_id}:intro:{uuid.uuid4().hex[:8]}",
        "body": "Hi, this is Tether",
        "status": "pending",
    }
    values.update(overrides)
    return values


def insert_message(conn: Connection, values: dict[str, object]) -> uuid.UUID:
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({name})s" for name in values)
    row = conn.execute(
        f"INSERT INTO messages ({columns}) VALUES ({placeholders}) RETURNING id",
        values,
    ).fetchone()
    assert row is not None
    message_id: uuid.UUID = row["id"]
    return message_id


def make_tenant(admin: Connection, **config: object) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant with its config (overridden by `config`) and one sandbox provider
    account: (tenant_id, provider_account_id)."""
    row = admin.execute(
        "INSERT INTO tenants (name) VALUES (%s) RETURNING id", (f"tenant-{uuid.uuid4().hex[:6]}",)
    ).fetchone()
    assert row is not None
    tenant_id: uuid.UUID = row["id"]
    config = HELP_IDENTITY | config
    columns = ["tenant_id", *config]
    admin.execute(
        f"INSERT INTO tenant_config ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
        (tenant_id, *config.values()),
    )
    row = admin.execute(
        "INSERT INTO provider_accounts (tenant_id, provider, name) VALUES (%s, 'sandbox', 'main') RETURNING id",
        (tenant_id,),
    ).fetchone()
    assert row is not None
    account_id: uuid.UUID = row["id"]
    return tenant_id, account_id


def make_campaign(
    admin: Connection, tenant_id: uuid.UUID, pool: str, status: str = "draft"
) -> uuid.UUID:
    row = admin.execute(
        "INSERT INTO campaigns (tenant_id, name, pool, status) VALUES (%s, %s, %s, %s) RETURNING id",
        (tenant_id, f"campaign-{uuid.uuid4().hex[:6]}", pool, status),
    ).fetchone()
    assert row is not None
    campaign_id: uuid.UUID = row["id"]
    return campaign_id


def make_lead(
    admin: Connection,
    tenant_id: uuid.UUID,
    phone: str | None = None,
    campaign_id: uuid.UUID | None = None,
) -> uuid.UUID:
    row = admin.execute(
        "INSERT INTO leads (tenant_id, campaign_id, phone) VALUES (%s, %s, %s) RETURNING id",
        (tenant_id, campaign_id, phone or unique_number()),
    ).fetchone()
    assert row is not None
    lead_id: uuid.UUID = row["id"]
    return lead_id


class Queue:
    def __init__(self, client: Any, url: str) -> None:
        self.client, self.url = client, url

    def take(self) -> list[dict[str, Any]]:
        """Every visible message, taken off the queue, with its delay attribute."""
        taken: list[dict[str, Any]] = []
        while batch := self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                self.client.delete_message(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"]
                )
                taken.append(json.loads(message["Body"]))
        return taken


class Deploy(Protocol):
    """The `deploy` fixture: set a function up as Lambda would, clearing `getters`."""

    def __call__(self, *getters: Callable[..., Any]) -> None: ...
