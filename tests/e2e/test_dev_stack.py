"""The local stack end to end: the gateway serves the template's routes and nothing
else, a lead's reply goes sandbox → gateway → webhook → InboundQueue → inbound, a send
goes OutboundQueue → outbound → sandbox and its status callbacks come back delivered,
`invoke` runs a function against the running stack, and Ctrl-C stops it all.

Rows are seeded as the schema owner (the API that would create them is issue 9's
other half); everything after that goes over HTTP.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import boto3
import pytest
import urllib3
from botocore.exceptions import ClientError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect

from tests.support.dev_stack import DevStack
from tests.support.factories import make_campaign, make_chain, make_lead, make_tenant
from tether.aws.connections import ConnectionsApi, ConnectionTable
from tether.aws.sqs import SqsQueue
from tether.config import PROJECT_ROOT
from tether.db.connection import Connection, FreshConnections, as_role, connect
from tether.db.unit_of_work import UnitOfWork
from tether.services.api_keys import issue_operator_key
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether.services.outbound import SendRequest, request_send
from tether_dev.local.aws import client

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {probe.__doc__ or probe}")
        time.sleep(0.2)


def request(method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
    return urllib3.request(method, url, timeout=15, retries=False, **kwargs)


def sandbox_account(admin: Connection, stack: DevStack, account_id: uuid.UUID) -> None:
    """Point a provider account at the running sandbox, as the README says to."""
    refs = stack.client.sandbox_account(str(account_id))
    admin.execute(
        "UPDATE provider_accounts SET provider = 'sandbox', signing_secret_ref = %s,"
        " credentials_ref = %s WHERE id = %s",
        (refs["signing_secret_ref"], refs["credentials_ref"], account_id),
    )


def test_the_gateway_serves_the_template_routes_and_403s_the_rest(dev_stack: DevStack) -> None:
    health = dev_stack.client.call("GET", "/v1/health")
    assert (health.status, health.json()) == (200, {"status": "ok"})
    assert health.headers["x-amzn-requestid"]

    for method, path in [("GET", "/nothing"), ("DELETE", "/v1/health"), ("GET", "/")]:
        answer = dev_stack.client.call(method, path)
        assert (answer.status, answer.json()) == (403, {"message": "Missing Authentication Token"})

    # the rest of /v1 is the api function's ({proxy+}): without a key, its 401
    assert dev_stack.client.call("GET", "/v1/nothing").status == 401

    # the webhook route is the function's: it answers an unknown account itself
    unknown = dev_stack.client.call("POST", f"/webhooks/sandbox/{uuid.uuid4()}", {})
    assert (unknown.status, unknown.json()["error"]) == (404, "not_found")


def test_a_leads_reply_is_received_stored_and_processed(dev_stack: DevStack) -> None:
    with connect(dev_stack.database_url, autocommit=True) as admin:
        chain = make_chain(admin)
        sandbox_account(admin, dev_stack, chain.provider_account_id)

    reply = subprocess.run(
        [
            sys.executable,
            "-m",
            "tether_dev",
            "sandbox",
            "reply",
            "--from",
            chain.lead_phone,
            "--to",
            chain.number,
            "--account",
            str(chain.provider_account_id),
            "Yes, interested! reach me at lead@example.com",
        ],
        cwd=PROJECT_ROOT,
        env=dev_stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert reply.returncode == 0, reply.stdout + reply.stderr
    assert json.loads(reply.stdout)["webhook_status"] == 200

    with connect(dev_stack.database_url, autocommit=True) as admin:

        def processed() -> dict[str, Any] | None:
            """the receipt is processed by the inbound poller"""
            return admin.execute(
                "SELECT r.processed_at, m.body, l.state, l.email FROM webhook_receipts r"
                " JOIN messages m ON m.tenant_id = r.tenant_id AND m.direction = 'inbound'"
                " JOIN leads l ON l.id = m.lead_id"
                " WHERE r.tenant_id = %s AND r.processed_at IS NOT NULL",
                (chain.tenant_id,),
            ).fetchone()

        row = eventually(processed)
    assert row["body"] == "Yes, interested! reach me at lead@example.com"
    assert row["state"] in ("email_captured", "high_intent")
    assert row["email"] == "lead@example.com"


def test_a_send_goes_out_once_from_its_bound_number_and_is_delivered(
    dev_stack: DevStack,
) -> None:
    sender = "+14155550123"
    with connect(dev_stack.database_url, autocommit=True) as admin:
        tenant_id, account_id = make_tenant(
            admin,
            send_segments_per_second=None,
            quiet_hours_start="00:00",
            quiet_hours_end="23:59:59",
            quiet_hours_wider_attested=True,
        )
        sandbox_account(admin, dev_stack, account_id)
        app = FreshConnections(as_role(dev_stack.database_url, "tether_app"))
        register_numbers(
            UnitOfWork(app, tenant_id), tenant_id, account_id, "Pool", [NumberRow(sender)]
        )
        campaign_id = make_campaign(admin, tenant_id, "Pool")
        stage_campaign(UnitOfWork(app, tenant_id), campaign_id, datetime.now(UTC))
        lead_id = make_lead(admin, tenant_id, "+12125550188", campaign_id)

    queue = SqsQueue(
        dev_stack.state["queues"]["OutboundQueue"],
        client("sqs", dev_stack.state["aws_endpoint_url"]),
    )
    send = SendRequest(
        tenant_id=tenant_id, campaign_id=campaign_id, lead_id=lead_id, body="Hello from Tether"
    )
    receipt = request_send(UnitOfWork(app, tenant_id), send, datetime.now(UTC), queue)

    with connect(dev_stack.database_url, autocommit=True) as admin:

        def delivered() -> dict[str, Any] | None:
            """the message's status callbacks came back: delivered"""
            return admin.execute(
                "SELECT status, external_id, from_address FROM messages"
                " WHERE id = %s AND status = 'delivered'",
                (receipt.message_id,),
            ).fetchone()

        message = eventually(delivered)
    assert message["from_address"] == sender

    texts = dev_stack.client.texts(str(account_id))
    assert [(t["sid"], t["from"], t["to"]) for t in texts] == [
        (message["external_id"], sender, "+12125550188")
    ]
    assert [t["idempotency_key"] for t in texts] == [str(receipt.message_id)]


def test_invoke_runs_one_function_against_the_running_stack(dev_stack: DevStack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tether_dev", "invoke", "sweeper", "events/sweeper.json"],
        cwd=PROJECT_ROOT,
        env=dev_stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {
        "receipts",
        "sends",
        "events",
        "media",
        "retention",
        "results",
        "webhook_deliveries",
    }
    # the local stack's sweeper runs the webhook retries too (none are due here)
    assert set(answer["webhook_deliveries"]) == {"attempted", "delivered", "retrying", "failed"}


def test_lambdas_invoke_api_runs_a_scheduled_function_now(dev_stack: DevStack) -> None:
    lambda_client = boto3.session.Session().client(
        "lambda",
        endpoint_url=dev_stack.state["lambda_url"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    event = json.loads((PROJECT_ROOT / "events/pool_release.json").read_text())
    answer = lambda_client.invoke(FunctionName="pool_release", Payload=json.dumps(event))
    assert (answer["StatusCode"], answer.get("FunctionError", "")) == (200, "")
    assert json.loads(answer["Payload"].read())["finished"] is True

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lambda_client.invoke(FunctionName="nope", Payload=b"{}")

    # the same through the stack's client, as the demo will call it
    assert dev_stack.client.invoke("pool_release", event)["finished"] is True
    with pytest.raises(RuntimeError, match="errorMessage"):
        dev_stack.client.invoke("inbound", {"Records": "not a list"})


def test_the_websocket_api_takes_a_key_subscribes_and_delivers_posts_to_connections(
    dev_stack: DevStack,
) -> None:
    """The local WebSocket API as the console and deliver_events use it: a socket with a
    tenant's key, its subscription answered with the polled bell's counts, and a frame
    posted through @connections with boto3's own client reaching it."""
    with connect(dev_stack.database_url, autocommit=True) as admin:
        chain = make_chain(admin)
    app = FreshConnections(as_role(dev_stack.database_url, "tether_app"))
    key = issue_operator_key(UnitOfWork(app, chain.tenant_id), chain.tenant_id, "e2e").key
    url = str(dev_stack.state["websocket_url"])
    with pytest.raises(InvalidStatus) as refused:
        websocket_connect(f"{url}/?api_key=tth_not-a-key", open_timeout=10)
    assert refused.value.response.status_code == 401
    polled = dev_stack.client.call(
        "GET", "/v1/notifications/unread-counts", None, {"Authorization": f"Bearer {key}"}
    ).json()["counts"]
    with websocket_connect(f"{url}/?api_key={key}", open_timeout=10) as socket:
        socket.send(json.dumps({"action": "subscribe", "stages": ["retarget"]}))
        assert json.loads(socket.recv(timeout=10)) == {
            "type": "subscribed",
            "stages": ["retarget"],
            "counts": polled,
        }
        table = ConnectionTable(
            str(dev_stack.state["tables"]["ConnectionsTable"]),
            client("dynamodb", str(dev_stack.state["aws_endpoint_url"])),
        )
        (stored,) = table.of_tenant(chain.tenant_id, datetime.now(UTC))
        assert stored.stages == ("retarget",)
        pushed = ConnectionsApi(
            str(dev_stack.state["websocket_management_url"]),
            client("apigatewaymanagementapi", str(dev_stack.state["websocket_management_url"])),
        )
        pushed.post(stored.connection_id, '{"type": "pong"}')
        assert json.loads(socket.recv(timeout=10)) == {"type": "pong"}


def test_a_sandbox_reply_rings_the_bell_of_a_subscribed_socket(dev_stack: DevStack) -> None:
    """Issue 16's end to end: sandbox reply → webhook → inbound (the reply and its event
    commit) → EventsQueue → deliver_events → WebSocketSink → @connections → the socket,
    with the polled bell's numbers."""
    if "EventsQueue" not in dev_stack.state["queues"]:
        pytest.skip("needs the events pipeline (deliver_events) of the outbox branch")
    with connect(dev_stack.database_url, autocommit=True) as admin:
        chain = make_chain(admin)  # its campaign's stage: initial_message
        sandbox_account(admin, dev_stack, chain.provider_account_id)
    app = FreshConnections(as_role(dev_stack.database_url, "tether_app"))
    key = issue_operator_key(UnitOfWork(app, chain.tenant_id), chain.tenant_id, "e2e").key
    url = f"{dev_stack.state['websocket_url']}/?api_key={key}"
    with websocket_connect(url, open_timeout=10) as socket:
        socket.send(json.dumps({"action": "subscribe", "stages": ["initial_message"]}))
        assert json.loads(socket.recv(timeout=10))["type"] == "subscribed"
        reply = subprocess.run(
            [sys.executable, "-m", "tether_dev", "sandbox", "reply", "--from", chain.lead_phone,
             "--to", chain.number, "--account", str(chain.provider_account_id), "Yes, call me"],
            cwd=PROJECT_ROOT, env=dev_stack.env, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert reply.returncode == 0, reply.stdout + reply.stderr
        bell = json.loads(socket.recv(timeout=30))
    polled = dev_stack.client.call(
        "GET", "/v1/notifications/unread-counts", None, {"Authorization": f"Bearer {key}"}
    ).json()["counts"]
    assert bell["type"] == "bell"
    assert bell["stage"] == "initial_message"
    assert bell["counts"] == polled
    assert polled["initial_message"] == 1
    assert bell["event"]["type"] == "reply.received"
    assert bell["event"]["data"]["lead_id"] == str(chain.lead_id)


def test_ctrl_c_stops_everything(dev_stack: DevStack) -> None:
    dev_stack.process.send_signal(signal.SIGINT)
    assert dev_stack.process.wait(timeout=30) == 0
    assert dev_stack.log().rstrip().endswith("stopped")
    for url in (
        dev_stack.gateway,
        dev_stack.state["lambda_url"],
        dev_stack.state["sandbox_url"],
        dev_stack.state["aws_endpoint_url"],
        dev_stack.state["websocket_management_url"],
    ):
        try:
            request("GET", url)
        except urllib3.exceptions.HTTPError:
            continue
        raise AssertionError(f"{url} still answers")
