"""The results rollup (migration 0026) equals a count of the facts, whatever the send
path, the status callbacks, the replies and the compaction do, and in whatever order:
whole classes of histories (hypothesis) through the real services, against a count made
here in Python from the messages and suppressions themselves."""

from __future__ import annotations

import statistics
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors as pg

from tests.support.factories import as_tenant
from tests.support.outbound import NOW, Outbound
from tests.support.replies import reply
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.events import StatusUpdate
from tether.domain.message_status import MessageStatus
from tether.services.stats import campaign_results, compact_results, number_results
from tether.services.statuses import apply_status_update
from tether_dev.sandbox import SandboxServer

# per lead: sent or left queued, its last status callback, its reply
histories = st.lists(
    st.tuples(
        st.booleans(),
        st.sampled_from([None, "delivered", "undelivered", "failed"]),
        st.sampled_from([None, "Sure, tell me more", "STOP"]),
        st.integers(0, 3),  # compaction after this lead: 0 none, else a batch of this size
    ),
    min_size=1,
    max_size=6,
)


def recount(admin: Connection, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The figures counted from the facts, in Python."""
    rows = admin.execute(
        "SELECT id, direction, purpose, lead_id, campaign_id, status, external_id, sent_at,"
        " received_at FROM messages WHERE tenant_id = %s",
        (tenant_id,),
    ).fetchall()
    opted = {
        r["source_message_id"]
        for r in admin.execute(
            "SELECT source_message_id FROM suppressions WHERE tenant_id = %s AND reason = 'opt_out'",
            (tenant_id,),
        )
    }
    sends = [r for r in rows if r["direction"] == "outbound" and r["purpose"] == "campaign"]
    first: dict[Any, Any] = {}
    for r in sorted(
        (r for r in sends if r["external_id"] and r["lead_id"]),
        key=lambda r: (r["sent_at"], r["id"]),
    ):
        first.setdefault((r["campaign_id"], r["lead_id"]), r)
    waits, opt_outs = [], 0
    for key, sent in first.items():
        answers = [
            r
            for r in rows
            if r["direction"] == "inbound"
            and (r["campaign_id"], r["lead_id"]) == key
            and r["received_at"] >= sent["sent_at"]
        ]
        if answers:
            waits.append((min(a["received_at"] for a in answers) - sent["sent_at"]).total_seconds())
            opt_outs += any(a["id"] in opted for a in answers)
    return {
        "requested": len(sends),
        "sent": sum(1 for r in sends if r["external_id"]),
        "delivered": sum(1 for r in sends if r["status"] in ("delivered", "read")),
        "failed": sum(1 for r in sends if r["status"] in ("failed", "undelivered", "canceled")),
        "contacts": len(first),
        "replies": len(waits),
        "opt_outs": opt_outs,
        "median_seconds_to_first_reply": statistics.median(waits) if waits else None,
    }


FIGURES = (
    "requested",
    "sent",
    "delivered",
    "failed",
    "contacts",
    "replies",
    "opt_outs",
    "median_seconds_to_first_reply",
)


def figures(results: Any) -> dict[str, Any]:
    return {name: getattr(results.overall, name) for name in FIGURES}


def _status(outbound: Outbound, message_id: uuid.UUID, status: str, code: str | None) -> None:
    row = outbound.message(message_id)
    update = StatusUpdate(
        provider="sandbox",
        external_id=str(row["external_id"]),
        status=MessageStatus(status),
        error_code=code,
        occurred_at=NOW + timedelta(minutes=1),
    )
    uow = outbound.uow()
    with uow:
        apply_status_update(uow, outbound.tenant_id, update, None, NOW + timedelta(minutes=1))
        uow.commit()


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories)
def test_the_rollup_equals_a_count_of_the_facts_after_any_history(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: SandboxServer,
    history: list[tuple[bool, str | None, str | None, int]],
) -> None:
    outbound = Outbound(admin, app_connections, sandbox)
    for index, (send, last, answer, compaction) in enumerate(history):
        phone = f"+1415555{2000 + index:04d}"
        message_id = outbound.request(outbound.lead(phone))
        if send:
            outbound.process(message_id)
            if last is not None:
                _status(outbound, message_id, last, "filtered" if last != "delivered" else None)
            if answer is not None:
                reply(outbound, answer, sender=phone)
        if compaction:
            compact_results(UnitOfWork(jobs_connections), compaction)
    results = campaign_results(outbound.uow(), outbound.campaign_id)
    assert figures(results) == recount(admin, outbound.tenant_id)
    number = admin.execute(
        "SELECT phone_number_id FROM campaign_phone_assignments WHERE campaign_id = %s",
        (outbound.campaign_id,),
    ).fetchone()
    assert number is not None
    assert figures(number_results(outbound.uow(), number["phone_number_id"])) == figures(results)
    # folded in full, the figures do not change
    while compact_results(UnitOfWork(jobs_connections), 1000):
        pass
    assert figures(campaign_results(outbound.uow(), outbound.campaign_id)) == figures(results)


def test_concurrent_compactions_fold_each_delta_once(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: SandboxServer,
) -> None:
    outbound = Outbound(admin, app_connections, sandbox)
    for index in range(12):
        outbound.process(outbound.request(outbound.lead(f"+1415555{3000 + index:04d}")))
    before = figures(campaign_results(outbound.uow(), outbound.campaign_id))
    errors: list[BaseException] = []

    def fold() -> None:
        try:
            while compact_results(UnitOfWork(jobs_connections), 3):
                pass
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=fold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert figures(campaign_results(outbound.uow(), outbound.campaign_id)) == before
    left = admin.execute(
        "SELECT count(*) AS n FROM result_deltas WHERE tenant_id = %s", (outbound.tenant_id,)
    ).fetchone()
    assert left is not None
    assert left["n"] == 0
    assert before["sent"] == before["contacts"] == 12


def test_the_rollup_is_invisible_to_other_tenants_and_the_app_cannot_delete_from_it(
    admin: Connection, app: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> None:
    outbound = Outbound(admin, app_connections, sandbox)
    outbound.process(outbound.request(outbound.lead("+14155554000")))
    other = Outbound(admin, app_connections, sandbox)
    as_tenant(app, other.tenant_id)
    for table in ("result_deltas", "result_counts", "result_replies"):
        row = app.execute(f"SELECT count(*) AS n FROM {table}").fetchone()
        assert row is not None
        assert row["n"] == 0, table  # the first tenant's rows are invisible here
    with pytest.raises(pg.InsufficientPrivilege):
        app.execute("DELETE FROM result_deltas")
    app.rollback()
