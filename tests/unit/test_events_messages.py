"""What EventsQueue carries: a commit's (or a sweep's) events as messages of one
tenant each, small enough for SQS, every event exactly once and in its order."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from tether.services.events import IDS_PER_MESSAGE, EventsMessage, events_messages

TENANTS = [uuid.UUID(int=n) for n in range(1, 4)]


@given(st.lists(st.sampled_from(TENANTS), max_size=350))
def test_every_event_goes_once_in_its_tenants_messages_in_order(owners: list[uuid.UUID]) -> None:
    pairs = [(tenant, uuid.uuid4()) for tenant in owners]
    messages = events_messages(pairs)
    assert all(1 <= len(m.event_ids) <= IDS_PER_MESSAGE for m in messages)
    for tenant in TENANTS:
        sent = [i for m in messages if m.tenant_id == tenant for i in m.event_ids]
        assert sent == [event for owner, event in pairs if owner == tenant]
    # each message is what the queue's body will be, and reads back the same
    assert all(EventsMessage.model_validate_json(m.model_dump_json()) == m for m in messages)
