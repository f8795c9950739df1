"""What a route needs beyond its parameters: the tenant the request acts for, a unit of
work scoped to it, the queue, the clock. Set for each request by `resolver.serve`."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from uuid import UUID

from tether.db.connection import ConnectionSource
from tether.db.unit_of_work import EventRelay, UnitOfWork
from tether.queues import MessageQueue, queue_at
from tether.secrets import SecretStore
from tether.services.api_keys import Principal
from tether.storage import MediaStore, media_store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApiPorts:
    """Everything the API talks to. The function wires real ones; tests wire moto's and
    a connection per unit of work."""

    connections: ConnectionSource
    queue: MessageQueue | None
    now: Callable[[], datetime] = utc_now
    max_body_bytes: int = 1024 * 1024
    # where a launch's chunks go (None: nowhere; the dispatcher re-drives them)
    launch_queue: MessageQueue | None = None
    # provider-account secrets (Secrets Manager; its client is made on first use)
    secrets: SecretStore = field(default_factory=SecretStore)
    # where committed events go (EventsQueue; None: the sweeper relays them)
    relay: EventRelay | None = None
    # the media bucket attachments' presigned URLs read (None: attachments have no URL)
    media: MediaStore | None = None
    media_url_expires_seconds: int = 300


@lru_cache(maxsize=1)
def api_ports() -> ApiPorts:
    """The container's connection and queue, made on first use."""
    from tether.config import api_settings
    from tether.db.connection import lambda_connection
    from tether.services.events import event_relay

    settings = api_settings()
    return ApiPorts(
        connections=lambda_connection("app"),
        queue=queue_at(settings.outbound_queue_url),
        max_body_bytes=settings.max_body_bytes,
        launch_queue=queue_at(settings.launch_queue_url),
        relay=event_relay(),
        media=media_store(settings.media_bucket_name) if settings.media_bucket_name else None,
        media_url_expires_seconds=settings.media_url_expires_seconds,
    )


@dataclass(frozen=True)
class RequestScope:
    principal: Principal
    ports: ApiPorts


_current: ContextVar[RequestScope] = ContextVar("tether_api_request")


def enter(scope: RequestScope) -> object:
    return _current.set(scope)


def leave(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current() -> RequestScope | None:
    return _current.get(None)


def scope() -> RequestScope:
    found = _current.get(None)
    if found is None:
        raise RuntimeError("no authenticated request is being served")
    return found


def principal() -> Principal:
    return scope().principal


def tenant_id() -> UUID:
    return scope().principal.tenant_id


def tenant_uow() -> UnitOfWork:
    """A unit of work whose every transaction is scoped to the request's tenant."""
    request = scope()
    return UnitOfWork(
        request.ports.connections, request.principal.tenant_id, relay=request.ports.relay
    )


def now() -> datetime:
    return scope().ports.now()


def queue() -> MessageQueue | None:
    return scope().ports.queue


def launch_queue() -> MessageQueue | None:
    return scope().ports.launch_queue


def secrets() -> SecretStore:
    return scope().ports.secrets


def media() -> tuple[MediaStore | None, int]:
    """The media bucket and how long its presigned URLs read."""
    ports = scope().ports
    return ports.media, ports.media_url_expires_seconds
