"""WebSocket push (issue 16): who is connected, to which workspace stages, and the
frames the WebSocket API sends them. Pure: the connections live in DynamoDB
(tether.aws.connections), the frames go out through API Gateway's @connections API.

The protocol (the console reads it):
- client → `{"action": "subscribe", "stages": [...]}`, answered
  `{"type": "subscribed", "stages": [...], "counts": {...}}`;
- client → `{"action": "ping"}`, answered `{"type": "pong"}`;
- after a reply commits, every connection of its tenant subscribed to its stage gets
  `{"type": "bell", "stage": ..., "counts": {...}, "event": <reply.received envelope>}`;
- anything else is answered `{"type": "error", "message": ...}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from tether.domain.campaigns import WORKSPACE_STAGES
from tether.domain.errors import InvalidInput
from tether.domain.outbox import EventType, OutboxEvent

# API Gateway closes every WebSocket connection after two hours; the item is kept a
# little longer (DynamoDB's TTL deletes lazily anyway), and a push to a connection
# that is gone earlier finds out (GoneException) and deletes it.
CONNECTION_LIFETIME = timedelta(hours=2)
EXPIRY_MARGIN = timedelta(minutes=5)
# what a client may send in one frame and still be read (API Gateway's frame limit is 32 KB)
MAX_CLIENT_FRAME_CHARS = 32 * 1024

Frame = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Connection:
    """One open WebSocket of a tenant, and the workspace stages it listens to."""

    connection_id: str
    tenant_id: UUID
    connected_at: datetime
    stages: tuple[str, ...] = field(default=())

    @property
    def expires_at(self) -> datetime:
        return self.connected_at + CONNECTION_LIFETIME + EXPIRY_MARGIN

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def listens_to(self, stage: str) -> bool:
        return stage in self.stages


class ConnectionGone(Exception):
    """The connection is closed (API Gateway's @connections answered 410 GoneException)."""


class PushRefused(Exception):
    """@connections answered, and refused this one frame (throttled, too large...)."""


def read_client_message(body: str | None) -> Mapping[str, Any]:
    """A client frame as the JSON object it must be; InvalidInput otherwise."""
    if body is None or not body.strip():
        raise InvalidInput('send a JSON object such as {"action": "ping"}')
    if len(body) > MAX_CLIENT_FRAME_CHARS:
        raise InvalidInput(f"a frame is at most {MAX_CLIENT_FRAME_CHARS} characters")
    try:
        message = json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"the frame is not JSON: {error.msg}") from None
    except ValueError:  # JSON that Python cannot hold (a number of 5,000 digits)
        raise InvalidInput("the frame is not JSON Tether can read") from None
    if not isinstance(message, dict):
        raise InvalidInput('send a JSON object such as {"action": "ping"}')
    return message


def subscription_stages(message: Mapping[str, Any]) -> tuple[str, ...]:
    """The workspace stages a subscribe message names, each once, in the stages' own
    order. An empty list listens to none. Unknown stages are refused by name."""
    stages = message.get("stages")
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise InvalidInput(
            f'"stages" must be a list of workspace stages ({", ".join(WORKSPACE_STAGES)})'
        )
    unknown = sorted({s for s in stages if s not in WORKSPACE_STAGES})
    if unknown:
        raise InvalidInput(
            f"unknown workspace stage(s) {', '.join(repr(s[:40]) for s in unknown[:5])};"
            f" known: {', '.join(WORKSPACE_STAGES)}"
        )
    return tuple(stage for stage in WORKSPACE_STAGES if stage in stages)


def reply_stage(event: OutboxEvent) -> str | None:
    """The workspace stage whose bell a reply.received event rings: its campaign's
    stage; None for any other event, or a reply without a campaign (no bell)."""
    if event.type is not EventType.REPLY_RECEIVED:
        return None
    stage = event.data.get("stage")
    return stage if isinstance(stage, str) and stage in WORKSPACE_STAGES else None


def subscribed_frame(stages: tuple[str, ...], counts: Mapping[str, int]) -> Frame:
    return {"type": "subscribed", "stages": list(stages), "counts": dict(counts)}


def bell_frame(stage: str, counts: Mapping[str, int], event: OutboxEvent) -> Frame:
    return {"type": "bell", "stage": stage, "counts": dict(counts), "event": event.envelope()}


def pong_frame() -> Frame:
    return {"type": "pong"}


def error_frame(message: str) -> Frame:
    return {"type": "error", "message": message}
