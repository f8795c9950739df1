"""Moving a lead through the unit of work: state and event together, exactly once."""

from __future__ import annotations

import pytest

from tests.support.factories import Chain, make_chain
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidTransition, NotFound
from tether.domain.lead_state import LeadState
from tether.services.leads import move_lead


def _state_and_events(admin: Connection, chain: Chain) -> tuple[str, list[str]]:
    state = admin.execute(
        "SELECT state::text AS s FROM leads WHERE id = %s", (chain.lead_id,)
    ).fetchone()
    events = admin.execute(
        "SELECT event_type FROM lead_events WHERE lead_id = %s ORDER BY created_at",
        (chain.lead_id,),
    ).fetchall()
    assert state is not None
    return state["s"], [e["event_type"] for e in events]


def test_move_records_the_event_once(
    app_connections: FreshConnections, admin: Connection, chain: Chain
) -> None:
    for _ in range(2):  # a redelivered cause changes nothing the second time
        with UnitOfWork(app_connections, chain.tenant_id) as uow:
            move_lead(
                uow, chain.lead_id, LeadState.TOUCHED, event_type="SMS_SENT", dedupe_key="send-1"
            )
            uow.commit()  # a step of the caller's transaction: the caller commits
    assert _state_and_events(admin, chain) == ("touched", ["SMS_SENT"])


def test_forbidden_move_writes_nothing(
    app_connections: FreshConnections, admin: Connection, chain: Chain
) -> None:
    with UnitOfWork(app_connections, chain.tenant_id) as uow, pytest.raises(InvalidTransition):
        move_lead(uow, chain.lead_id, LeadState.IN_CALL_QUEUE, event_type="X", dedupe_key="x-1")
    assert _state_and_events(admin, chain) == ("new", [])


def test_another_tenants_lead_is_not_found(
    app_connections: FreshConnections, admin: Connection, chain: Chain
) -> None:
    stranger = make_chain(admin)
    with UnitOfWork(app_connections, stranger.tenant_id) as uow, pytest.raises(NotFound):
        move_lead(uow, chain.lead_id, LeadState.TOUCHED, event_type="SMS_SENT", dedupe_key="s-1")
    assert _state_and_events(admin, chain) == ("new", [])


def test_uncommitted_work_is_rolled_back(
    app_connections: FreshConnections, admin: Connection, chain: Chain
) -> None:
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        lead = uow.leads.get(chain.lead_id)
        assert lead is not None
        uow.lead_events.append(lead, "NOTE", "note-1")
    assert _state_and_events(admin, chain) == ("new", [])


def test_a_unit_of_work_is_entered_once_at_a_time(
    app_connections: FreshConnections, admin: Connection, chain: Chain
) -> None:
    """A use case opens the unit of work it is given; one given an open one refuses it
    rather than share, then release, the first one's connection mid-transaction."""
    uow = UnitOfWork(app_connections, chain.tenant_id)
    with uow:
        lead = uow.leads.get(chain.lead_id)
        assert lead is not None
        uow.lead_events.append(lead, "NOTE", "note-once")
        with pytest.raises(RuntimeError, match="open already"), uow:
            pass
        uow.commit()  # the first entry still holds its connection and transaction
    assert _state_and_events(admin, chain) == ("new", ["NOTE"])
    with uow:  # closed, it opens again: another transaction
        assert uow.leads.get(chain.lead_id) == lead
