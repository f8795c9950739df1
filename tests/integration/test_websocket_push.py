"""WebSocket push (issue 16): the local WebSocket API (a real server speaking API
Gateway's events, the template's routes and authorizer, the functions' own code), its
connections in DynamoDB (moto's server), a real `websockets` client, and
WebSocketSink pushing through the production @connections client (boto3's
apigatewaymanagementapi) to the local @connections API.

Each test makes tenants of its own; the servers are shared by the module (about a
second to start)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import urllib3
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support.factories import Chain, MigratedDatabase, make_chain
from tether.aws.clients import forget_every_client
from tether.aws.connections import ConnectionsApi, ConnectionTable
from tether.config import PROJECT_ROOT
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.outbox import EventType, OutboxEvent
from tether.domain.push import Connection as PushConnection
from tether.services.api_keys import FAILURES_PER_MINUTE, issue_operator_key
from tether.services.inbox import unread_counts
from tether.services.push import WebSocketSink
from tether.websocket import websocket_sink
from tether_dev.local.aws import MotoServer, client, provision
from tether_dev.local.runtime import FunctionRunner, local_environment
from tether_dev.local.template import load_template, read_stack
from tether_dev.local.websocket import LocalWebSocketApi

QUIET_SECONDS = 0.3  # how long a socket that must get nothing is watched
# Failed key lookups count per source address (20 a minute): these tests connect from
# loopback addresses of their own, so the API tests' 127.0.0.1 keeps its count.
SOURCE = "127.0.0.16"
FLOODING_SOURCE = "127.0.0.17"


@dataclass
class PushStack:
    websocket: LocalWebSocketApi
    table: ConnectionTable
    api: ConnectionsApi

    def open(self, key: str | None, source: str = SOURCE) -> ClientConnection:
        query = "" if key is None else f"?api_key={key}"
        return connect(f"{self.websocket.url}/{query}", open_timeout=10, source_address=(source, 0))


@pytest.fixture(scope="module")
def push_stack(test_database: MigratedDatabase) -> Iterator[PushStack]:
    from tether.aws.clients import aws_client, management_client
    from tether.config import database_settings, push_settings, websocket_settings
    from tether.db.connection import lambda_connection
    from tether.websocket import authorizer_database, websocket_ports

    cached: list[Any] = [
        database_settings,
        websocket_settings,
        lambda_connection,
        websocket_ports,
        authorizer_database,
        management_client,
        aws_client,
        push_settings,
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "environ", dict(os.environ))  # the runner writes the environment
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }.items():
            os.environ[name] = value
        for getter in cached:
            getter.cache_clear()
        # and the one botocore session: one an earlier test made read an environment
        # without this region (NoRegionError, by the order xdist gave the files)
        forget_every_client()
        moto = MotoServer("127.0.0.1", 0).start()
        try:
            stack = read_stack(
                load_template(PROJECT_ROOT / "template.yaml"), lambda name: f"{moto.url}/{name}"
            )
            provision(stack, moto.url)
            runner = FunctionRunner(
                stack,
                PROJECT_ROOT,
                local_environment(aws_endpoint_url=moto.url, database_url=test_database.admin_url),
            )
            assert stack.websocket is not None
            websocket = LocalWebSocketApi(
                stack.websocket,
                stack.stage,
                lambda function, event, request_id: runner.invoke(
                    stack.function(function), event, request_id
                ),
                port=0,
                management_port=0,
            ).start()
            table_name = stack.function("websocket").environment["CONNECTIONS_TABLE_NAME"]
            try:
                yield PushStack(
                    websocket,
                    ConnectionTable(table_name, client("dynamodb", moto.url)),
                    ConnectionsApi(websocket.management_url),  # the production client
                )
            finally:
                websocket.close()
        finally:
            moto.stop()
            lambda_connection("app").acquire().close()
            for getter in cached:
                getter.cache_clear()
            forget_every_client()


@pytest.fixture
def key_of(app_connections: FreshConnections) -> Callable[[Chain], str]:
    def issue(chain: Chain) -> str:
        uow = UnitOfWork(app_connections, chain.tenant_id)
        return issue_operator_key(uow, chain.tenant_id, "websocket test").key

    return issue


def unread(admin: Connection, chain: Chain, stage: str, n: int = 1) -> None:
    for _ in range(n):
        admin.execute(
            "INSERT INTO notifications (tenant_id, workspace_stage, kind, title)"
            " VALUES (%s, %s, 'reply', 'a reply')",
            (chain.tenant_id, stage),
        )


def frame(socket: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message = socket.recv(timeout=timeout)
    assert isinstance(message, str)
    answer: dict[str, Any] = json.loads(message)
    return answer


def subscribe(socket: ClientConnection, *stages: str) -> dict[str, Any]:
    socket.send(json.dumps({"action": "subscribe", "stages": list(stages)}))
    return frame(socket)


def reply_received(
    app_connections: FreshConnections, admin: Connection, chain: Chain, stage: str | None
) -> OutboxEvent:
    """A reply's bell (when it has a stage) and its event, as committed by the inbound
    path; the event as deliver_events loads it."""
    if stage is not None:
        unread(admin, chain, stage)
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        event = uow.outbox.record(
            chain.tenant_id,
            EventType.REPLY_RECEIVED,
            {"lead_id": str(chain.lead_id), "stage": stage, "body": "yes please"},
            datetime.now(UTC),
            lead_id=chain.lead_id,
        )
        uow.commit()
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        (stored,) = uow.outbox.get([event.id])
    return stored


def stays_quiet(socket: ClientConnection) -> None:
    """Nothing arrives, and the socket is alive: a ping's pong is the next frame."""
    with pytest.raises(TimeoutError):
        socket.recv(timeout=QUIET_SECONDS)
    socket.send(json.dumps({"action": "ping"}))
    assert frame(socket) == {"type": "pong"}


def unretried_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}),
    )


def sink(stack: PushStack, app_connections: FreshConnections) -> WebSocketSink:
    return WebSocketSink(stack.table, stack.api, lambda t: UnitOfWork(app_connections, t))


def test_a_good_key_connects_and_a_bad_or_missing_one_is_refused(
    push_stack: PushStack, admin: Connection, key_of: Callable[[Chain], str]
) -> None:
    chain = make_chain(admin)
    key = key_of(chain)
    for bad, status in ((None, 401), ("tth_not-a-key", 401), ("", 401), (key + "x", 401)):
        with pytest.raises(InvalidStatus) as refused:
            push_stack.open(bad)
        assert refused.value.response.status_code == status, bad
    with push_stack.open(key) as socket:
        socket.send(json.dumps({"action": "ping"}))
        assert frame(socket) == {"type": "pong"}
        (stored,) = push_stack.table.of_tenant(chain.tenant_id, datetime.now(UTC))
        assert stored.tenant_id == chain.tenant_id
        assert stored.stages == ()
    gone_within(push_stack, chain)  # $disconnect deletes the connection


def test_a_source_that_guessed_too_often_is_denied_even_with_a_good_key(
    push_stack: PushStack, admin: Connection, key_of: Callable[[Chain], str]
) -> None:
    key = key_of(make_chain(admin))
    # failures count per calendar minute (the limiter's window), and the stack runs on the
    # wall clock: a flood that straddled a minute started over half-way (CI saw 401, not 403)
    seconds = datetime.now(UTC).second
    if seconds >= 50:
        time.sleep(60.5 - seconds)
    statuses = []
    for _ in range(FAILURES_PER_MINUTE + 1):
        with pytest.raises(InvalidStatus) as refused:
            push_stack.open("tth_guess", source=FLOODING_SOURCE)
        statuses.append(refused.value.response.status_code)
    # unknown keys are 401 until the source is over its failures; then the authorizer
    # denies (403) whatever it sends, as the REST API answers 429
    assert statuses[:FAILURES_PER_MINUTE] == [401] * FAILURES_PER_MINUTE
    assert statuses[-1] == 403
    with pytest.raises(InvalidStatus) as denied:
        push_stack.open(key, source=FLOODING_SOURCE)
    assert denied.value.response.status_code == 403
    with push_stack.open(key) as socket:  # another source is let in
        socket.send(json.dumps({"action": "ping"}))
        assert frame(socket) == {"type": "pong"}


def test_subscribe_answers_the_polled_bells_counts_and_refuses_what_it_cannot_read(
    push_stack: PushStack,
    admin: Connection,
    app_connections: FreshConnections,
    key_of: Callable[[Chain], str],
) -> None:
    chain = make_chain(admin)
    unread(admin, chain, "retarget", 2)
    unread(admin, chain, "nudger")
    polled = unread_counts(UnitOfWork(app_connections, chain.tenant_id), chain.tenant_id)
    with push_stack.open(key_of(chain)) as socket:
        answer = subscribe(socket, "nudger", "retarget", "nudger")
        assert answer == {"type": "subscribed", "stages": ["retarget", "nudger"], "counts": polled}
        assert (polled["retarget"], polled["nudger"]) == (2, 1)
        (stored,) = push_stack.table.of_tenant(chain.tenant_id, datetime.now(UTC))
        assert stored.stages == ("retarget", "nudger")

        refused = subscribe(socket, "retarget", "closing_time")
        assert refused["type"] == "error"
        assert "closing_time" in refused["message"]
        for sent in ("not json", '{"action": "dance"}', "[1, 2]", '{"action": "subscribe"}'):
            socket.send(sent)
            answer = frame(socket)
            assert answer["type"] == "error", sent
            assert answer["message"], sent
        # nothing refused changed the subscription
        (stored,) = push_stack.table.of_tenant(chain.tenant_id, datetime.now(UTC))
        assert stored.stages == ("retarget", "nudger")

        # a binary frame closes the socket (1003), as API Gateway does; $disconnect follows
        socket.send(b'{"action": "ping"}')
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
        assert socket.close_code == 1003
    gone_within(push_stack, chain)


def gone_within(push_stack: PushStack, chain: Chain, seconds: float = 5) -> None:
    """The tenant's connections are deleted ($disconnect) within `seconds`."""
    deadline = time.monotonic() + seconds
    while push_stack.table.of_tenant(chain.tenant_id, datetime.now(UTC)):
        assert time.monotonic() < deadline, "a closed socket's connection is still stored"
        time.sleep(0.05)


def test_a_reply_rings_the_bell_of_its_tenants_sockets_on_its_stage_only(
    push_stack: PushStack,
    admin: Connection,
    app_connections: FreshConnections,
    key_of: Callable[[Chain], str],
) -> None:
    tenant_a, tenant_b = make_chain(admin), make_chain(admin)
    key_a, key_b = key_of(tenant_a), key_of(tenant_b)
    with (
        push_stack.open(key_a) as listening,
        push_stack.open(key_a) as other_stage,
        push_stack.open(key_b) as other_tenant,
    ):
        subscribe(listening, "retarget", "nudger")
        subscribe(other_stage, "nudger")
        subscribe(other_tenant, "retarget")
        event = reply_received(app_connections, admin, tenant_a, "retarget")

        # as deliver_events makes it: from its environment
        os.environ["WEBSOCKET_MANAGEMENT_URL"] = push_stack.websocket.management_url
        os.environ["CONNECTIONS_TABLE_NAME"] = push_stack.table.table_name
        from_environment = websocket_sink(lambda t: UnitOfWork(app_connections, t))
        from_environment.deliver([event], datetime.now(UTC))

        bell = frame(listening)
        polled = unread_counts(UnitOfWork(app_connections, tenant_a.tenant_id), tenant_a.tenant_id)
        assert bell == {
            "type": "bell",
            "stage": "retarget",
            "counts": polled,
            "event": event.envelope(),
        }
        assert polled["retarget"] == 1
        stays_quiet(other_stage)
        stays_quiet(other_tenant)

        # a reply without a stage, and events that are not replies, ring nothing
        no_stage = reply_received(app_connections, admin, tenant_a, None)
        sink(push_stack, app_connections).deliver([no_stage], datetime.now(UTC))
        stays_quiet(listening)


def test_a_socket_that_is_gone_is_deleted_and_the_others_still_get_the_bell(
    push_stack: PushStack,
    admin: Connection,
    app_connections: FreshConnections,
    key_of: Callable[[Chain], str],
) -> None:
    chain = make_chain(admin)
    now = datetime.now(UTC)
    # a connection API Gateway no longer has (its $disconnect never came)
    push_stack.table.add(PushConnection("gone1234567=", chain.tenant_id, now, ("retarget",)))
    with push_stack.open(key_of(chain)) as socket:
        subscribe(socket, "retarget")
        assert len(push_stack.table.of_tenant(chain.tenant_id, now)) == 2
        events = [reply_received(app_connections, admin, chain, "retarget") for _ in range(2)]

        sink(push_stack, app_connections).deliver(events, datetime.now(UTC))

        assert [frame(socket)["event"]["id"] for _ in events] == [str(e.id) for e in events]
        (left,) = push_stack.table.of_tenant(chain.tenant_id, datetime.now(UTC))
        assert left.connection_id != "gone1234567="

        # @connections unreachable: logged and counted, never raised, nothing deleted, and
        # the batch's other bells not tried (each would wait out the same timeouts)
        nothing_there = "http://127.0.0.1:9"
        unreachable = unretried_client(nothing_there)
        attempts: list[str] = []
        unreachable.meta.events.register(
            "before-send.apigatewaymanagementapi.PostToConnection",
            lambda request, **_: attempts.append(request.url),
        )
        down = WebSocketSink(
            push_stack.table,
            ConnectionsApi(nothing_there, unreachable),
            lambda t: UnitOfWork(app_connections, t),
        )
        down.deliver(events, datetime.now(UTC))
        assert len(attempts) == 1
        assert push_stack.table.of_tenant(chain.tenant_id, datetime.now(UTC)) == [left]


def test_the_local_connections_api_answers_as_api_gateways_does(
    push_stack: PushStack, admin: Connection, key_of: Callable[[Chain], str]
) -> None:
    """GetConnection, DeleteConnection and a refused unsigned request, through boto3's
    own client and raw HTTP; a deleted connection gets its $disconnect."""
    chain = make_chain(admin)
    endpoint = push_stack.websocket.management_url
    with push_stack.open(key_of(chain)) as socket:
        (stored,) = push_stack.table.of_tenant(chain.tenant_id, datetime.now(UTC))
        unsigned = urllib3.request("POST", f"{endpoint}/@connections/{stored.connection_id}")
        assert unsigned.status == 403
        management = push_stack.api.client
        described = management.get_connection(ConnectionId=stored.connection_id)
        assert described["Identity"]["SourceIp"] == SOURCE
        assert described["ConnectedAt"] <= described["LastActiveAt"]
        management.delete_connection(ConnectionId=stored.connection_id)
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
        with pytest.raises(management.exceptions.GoneException):
            management.get_connection(ConnectionId=stored.connection_id)
    gone_within(push_stack, chain)
