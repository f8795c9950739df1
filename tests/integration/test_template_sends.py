"""The timers' texts go through the same rendering as launch and the API: a follow-up
renders the campaign's follow-up template for its lead, and a move renders the next
campaign's template (its variant recorded)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.outbound import NOW
from tests.support.timers import World
from tether.db.connection import Connection, FreshConnections
from tether.domain.timers import TimerType
from tether_dev.sandbox import SandboxServer


@pytest.fixture
def world(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: SandboxServer,
) -> World:
    return World(admin, app_connections, jobs_connections, sandbox)


def _fire(world: World, timer_type: TimerType) -> dict[str, object]:
    lead_id = world.touched()
    world.admin.execute("UPDATE leads SET first_name = 'Ana' WHERE id = %s", (lead_id,))
    with world.uow() as uow:  # only the timer under test
        uow.timers.cancel(lead_id, NOW, "test")
        uow.commit()
    due = NOW + timedelta(days=2)
    world.schedule(lead_id, timer_type, due)
    assert world.run(due).fired == 1
    message_id = world.timers(lead_id)[timer_type.value]["message_id"]
    row = world.admin.execute(
        "SELECT body, variant, campaign_id FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row is not None
    return dict(row)


def test_a_follow_up_renders_the_campaigns_follow_up_template(world: World) -> None:
    world.admin.execute(
        "UPDATE campaigns SET follow_up_template = 'Still there, {first_name|friend}? {{-}}'"
        " WHERE id = %s",
        (world.campaign_id,),
    )
    sent = _fire(world, TimerType.FOLLOW_UP)
    assert (sent["body"], sent["variant"]) == ("Still there, Ana? {-}", None)


def test_a_move_renders_the_next_campaigns_template_with_its_variant(world: World) -> None:
    world.admin.execute(
        "UPDATE campaigns SET template = 'Cathy here, {first_name}: still interested?'"
        " WHERE id = %s",
        (world.nudge,),
    )
    world.step("TIMER_7D", "move", world.nudge)
    sent = _fire(world, TimerType.TIMER_7D)
    assert sent == {
        "body": "Cathy here, Ana: still interested?",
        "variant": "default",
        "campaign_id": world.nudge,
    }
