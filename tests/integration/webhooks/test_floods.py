"""Floods cost nothing (issue 24): a refused webhook to an unknown account is a metric,
not a row; the refusals of a known account are counted into one audit row per account,
kind of refusal and minute. The database lets a counted row's count go up and nothing
else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from psycopg import errors as pg

from tests.support.factories import Chain, as_tenant
from tests.support.webhook_samples import load_sample, retarget, signed_event, with_body
from tests.support.webhooks import AddAccount, Aws, Deliver, audit_rows, make_ports
from tether.db.connection import Connection, FreshConnections

FLOOD = 1000


def audit_count(admin: Connection) -> int:
    row = admin.execute("SELECT count(*) AS n FROM audit_log").fetchone()
    assert row is not None
    return int(row["n"])


def test_a_flood_of_a_thousand_refused_webhooks_adds_a_handful_of_rows(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    known = add_account("sandbox")
    signed = signed_event(load_sample("sandbox_inbound"), account_id=known)
    forged = with_body(signed, signed["body"].replace("Sounds", "Sound"))
    before = audit_count(admin)

    statuses: dict[int, int] = {}
    for i in range(FLOOD):
        if i % 2:  # a random account: nobody's
            event = retarget(load_sample("sandbox_inbound"), str(uuid.uuid4()))
        elif i % 4 == 0:  # the known account, forged
            event = forged
        else:  # the known account, unsigned, or by the wrong method
            event = {**forged, "headers": {"Content-Type": "application/json"}}
            if i % 8 == 2:
                event["httpMethod"] = "GET"
        status = deliver(event)["statusCode"]
        statuses[status] = statuses.get(status, 0) + 1

    assert set(statuses) == {401, 404, 405}, statuses
    added = audit_count(admin) - before
    # one row per (account, kind, minute): 401 and 405 kinds, a minute boundary at worst
    assert 1 <= added <= 4, added
    rows = audit_rows(admin, known)
    assert sum(row["detail"]["count"] for row in rows) == FLOOD // 2
    assert {row["detail"]["rejection"] for row in rows} == {
        "invalid_signature",
        "method_not_allowed",
    }
    assert all(row["tenant_id"] is not None for row in rows)


def test_counts_are_per_minute(
    aws: Aws, app_connections: FreshConnections, add_account: AddAccount, admin: Connection
) -> None:
    from tether.services.webhooks import receive_webhook
    from tether.webhooks.errors import WebhookRejected
    from tether.webhooks.request import WebhookRequest

    known = add_account("sandbox")
    forged = WebhookRequest.from_api_gateway(
        with_body(signed_event(load_sample("sandbox_inbound"), account_id=known), "{}")
    )
    start = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
    for offset in (0, 10, 20, 40, 95):
        ports = make_ports(aws, app_connections, now=lambda o=offset: start + timedelta(seconds=o))
        with pytest.raises(WebhookRejected):
            receive_webhook(forged, ports)
    rows = audit_rows(admin, known)
    by_minute = {row["detail"]["minute"]: row["detail"]["count"] for row in rows}
    assert by_minute == {
        "2026-03-01T12:00:00+00:00": 3,
        "2026-03-01T12:01:00+00:00": 1,
        "2026-03-01T12:02:00+00:00": 1,
    }


# the database's side of it


def counted_row(admin: Connection, chain: Chain) -> dict[str, object]:
    row = admin.execute(
        "INSERT INTO audit_log (tenant_id, kind, subject_id, detail, rate_key)"
        " VALUES (%s, 'webhook_rejected', 'acct', '{\"count\": 3, \"reason\": \"r\"}', %s)"
        " RETURNING id",
        (chain.tenant_id, f"test:{uuid.uuid4()}"),
    ).fetchone()
    assert row is not None
    return row


def test_a_counted_row_may_only_count_up(admin: Connection, chain: Chain) -> None:
    row = counted_row(admin, chain)
    admin.execute(
        "UPDATE audit_log SET detail = jsonb_set(detail, '{count}', '4') WHERE id = %s",
        (row["id"],),
    )
    attacks = [
        "UPDATE audit_log SET detail = jsonb_set(detail, '{count}', '2') WHERE id = %s",
        "UPDATE audit_log SET detail = jsonb_set(detail, '{count}', '\"lots\"') WHERE id = %s",
        "UPDATE audit_log SET detail = jsonb_set(detail, '{reason}', '\"x\"') WHERE id = %s",
        "UPDATE audit_log SET detail = detail - 'count' WHERE id = %s",
        "UPDATE audit_log SET kind = 'other' WHERE id = %s",
        "UPDATE audit_log SET subject_id = 'other' WHERE id = %s",
        "UPDATE audit_log SET rate_key = NULL WHERE id = %s",
        "UPDATE audit_log SET created_at = now() - interval '1 day' WHERE id = %s",
        "DELETE FROM audit_log WHERE id = %s",
    ]
    for attack in attacks:
        with pytest.raises(pg.CheckViolation), admin.transaction():
            admin.execute(attack, (row["id"],))
    detail = admin.execute("SELECT detail FROM audit_log WHERE id = %s", (row["id"],)).fetchone()
    assert detail == {"detail": {"count": 4, "reason": "r"}}


def test_an_ordinary_audit_row_stays_strictly_append_only(admin: Connection, chain: Chain) -> None:
    row = admin.execute(
        "INSERT INTO audit_log (tenant_id, kind, detail) VALUES (%s, 'access_denied',"
        " '{\"count\": 1}') RETURNING id",
        (chain.tenant_id,),
    ).fetchone()
    assert row is not None
    with pytest.raises(pg.CheckViolation), admin.transaction():
        admin.execute("UPDATE audit_log SET detail = '{\"count\": 2}' WHERE id = %s", (row["id"],))


def test_the_app_role_may_change_only_the_detail_of_its_own_tenants_rows(
    app: Connection, admin: Connection, chain: Chain
) -> None:
    row = counted_row(admin, chain)
    as_tenant(app, uuid.uuid4())
    assert (
        app.execute(
            "UPDATE audit_log SET detail = jsonb_set(detail, '{count}', '9') WHERE id = %s",
            (row["id"],),
        ).rowcount
        == 0
    )  # another tenant's row is invisible
    with pytest.raises(pg.InsufficientPrivilege):
        app.execute("UPDATE audit_log SET kind = 'x' WHERE id = %s", (row["id"],))
