"""WebSocket push's pure rules (tether.domain.push): what a client frame may be, which
stages a subscription holds, which events ring a bell, and how long a connection is
kept."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.campaigns import WORKSPACE_STAGES
from tether.domain.errors import InvalidInput
from tether.domain.outbox import EventType, OutboxEvent
from tether.domain.push import (
    CONNECTION_LIFETIME,
    MAX_CLIENT_FRAME_CHARS,
    Connection,
    bell_frame,
    read_client_message,
    reply_stage,
    subscription_stages,
)

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
stage_names = st.sampled_from(WORKSPACE_STAGES)
any_names = st.one_of(stage_names, st.text(max_size=30))


def event(type: EventType, data: dict[str, object]) -> OutboxEvent:
    return OutboxEvent(uuid.uuid4(), uuid.uuid4(), type, 1, None, AT, data)


@given(st.lists(any_names, max_size=12))
def test_a_subscription_is_its_known_stages_once_in_order_or_names_what_is_unknown(
    names: list[str],
) -> None:
    unknown = [n for n in names if n not in WORKSPACE_STAGES]
    if unknown:
        with pytest.raises(InvalidInput) as refused:
            subscription_stages({"stages": names})
        assert repr(sorted(set(unknown))[0][:40]) in str(refused.value)
        return
    stages = subscription_stages({"stages": names})
    assert set(stages) == set(names)
    assert list(stages) == [s for s in WORKSPACE_STAGES if s in stages]


@pytest.mark.parametrize("stages", [None, "retarget", {"retarget": 1}, [1], [["retarget"]]])
def test_stages_must_be_a_list_of_names(stages: object) -> None:
    with pytest.raises(InvalidInput, match="list of workspace stages"):
        subscription_stages({"stages": stages} if stages is not None else {})


@given(st.one_of(st.none(), st.text(max_size=200), st.binary(max_size=50).map(repr)))
def test_any_text_is_a_json_object_or_a_clear_refusal(body: str | None) -> None:
    refusal = None
    try:
        message = read_client_message(body)
    except InvalidInput as refused:
        refusal = str(refused)
    else:
        assert isinstance(message, dict)
        return
    assert refusal


@given(st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10), max_size=5))
def test_a_json_object_is_read_as_it_was_sent(message: dict[str, object]) -> None:
    assert read_client_message(json.dumps(message)) == message


def test_frames_over_the_limit_and_unreadable_numbers_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at most"):
        read_client_message(json.dumps({"action": "ping", "pad": "x" * MAX_CLIENT_FRAME_CHARS}))
    with pytest.raises(InvalidInput):
        read_client_message('{"action": "ping", "n": 1' + "0" * 5000 + "}")


def test_only_a_reply_with_a_known_stage_rings_a_bell() -> None:
    assert reply_stage(event(EventType.REPLY_RECEIVED, {"stage": "nudger"})) == "nudger"
    assert reply_stage(event(EventType.REPLY_RECEIVED, {"stage": None})) is None
    assert reply_stage(event(EventType.REPLY_RECEIVED, {"stage": "lunch"})) is None
    assert reply_stage(event(EventType.CALL_QUEUED, {"stage": "nudger"})) is None


def test_the_bell_carries_the_counts_and_the_events_envelope() -> None:
    reply = event(EventType.REPLY_RECEIVED, {"stage": "retarget", "body": "yes"})
    counts = {stage: 0 for stage in WORKSPACE_STAGES} | {"retarget": 3}
    frame = bell_frame("retarget", counts, reply)
    assert frame == {
        "type": "bell",
        "stage": "retarget",
        "counts": counts,
        "event": reply.envelope(),
    }
    assert json.loads(json.dumps(frame)) == frame


def test_a_connection_is_kept_past_api_gateways_two_hours_then_expires() -> None:
    connection = Connection("abc123456789=", uuid.uuid4(), AT, ("retarget",))
    assert connection.expires_at > AT + CONNECTION_LIFETIME
    assert not connection.expired(AT + CONNECTION_LIFETIME)
    assert connection.expired(connection.expires_at)
    assert connection.expired(AT + CONNECTION_LIFETIME + timedelta(hours=1))
    assert connection.listens_to("retarget")
    assert not connection.listens_to("nudger")
