"""The api function called as API Gateway calls it: proxy events in, replies parsed, as
one tenant's key; and the Api handle its fixture gives (moto's queue, the database)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import functions.api.app as api_app
from tests.support.factories import HELP_IDENTITY
from tests.support.lambda_context import LambdaContextStub
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.services.api_keys import create_tenant
from tether.services.launches import LaunchChunk, run_launch_chunk

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)  # 15:00 in New York: inside quiet hours' window


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Client:
    """Calls the api function with API Gateway proxy events as one tenant's key."""

    key: str | None
    tenant_id: Any = None
    default_headers: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        sent = {"Content-Type": content_type, **self.default_headers, **(headers or {})}
        if self.key is not None:
            sent.setdefault("Authorization", f"Bearer {self.key}")
        text = raw if raw is not None else (json.dumps(body) if body is not None else None)
        event = proxy_event(method, path, sent, text, query)
        response = api_app.handler(event, LambdaContextStub(function_name="tether-api"))
        payload = response.get("body") or ""
        answered = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
        answered.update(response.get("headers") or {})
        content = answered.get("Content-Type", "")
        parsed = (
            json.loads(payload) if payload and content.startswith("application/json") else payload
        )
        return Reply(response["statusCode"], parsed, answered)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, body if body is not None else {}, **kwargs)


def proxy_event(
    method: str,
    path: str,
    headers: dict[str, str],
    body: str | None,
    query: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway (REST, proxy) event for `ANY /v1/{proxy+}`, as events/api shows."""
    params = {k: str(v) for k, v in (query or {}).items() if v is not None}
    return {
        "resource": "/v1/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": params or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in params.items()} or None,
        "pathParameters": {"proxy": path.removeprefix("/v1/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "k3v9x2w1ab",
            "httpMethod": method,
            "path": f"/dev{path}" + (f"?{urlencode(params)}" if params else ""),
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "resourcePath": "/v1/{proxy+}",
            "stage": "dev",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


# who the settings audit row of a test tenant's HELP identity names
FIXTURE_ACTOR = "tests.support.api_client"


@dataclass
class Api:
    sqs: Any
    queue_url: str
    jobs: FreshConnections
    admin: Connection
    secretsmanager: Any = None
    launch_queue_url: str = ""
    app: FreshConnections | None = None

    def run_launches(self, now: datetime = NOW, chunk_size: int = 1000) -> list[str]:
        """Play LaunchQueue as the launch function would until it is empty: each chunk
        message taken off and run; what came of each."""
        assert self.app is not None
        launch_queue = SqsQueue(self.launch_queue_url, self.sqs)
        outbound = SqsQueue(self.queue_url, self.sqs)
        outcomes: list[str] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.launch_queue_url, MaxNumberOfMessages=1
            ).get("Messages", [])
            if not batch:
                return outcomes
            (message,) = batch
            chunk = LaunchChunk.model_validate_json(message["Body"])
            outcomes.append(
                run_launch_chunk(
                    UnitOfWork(self.app, chunk.tenant_id),
                    launch_queue,
                    outbound,
                    chunk,
                    now,
                    chunk_size,
                )
            )
            self.sqs.delete_message(
                QueueUrl=self.launch_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )

    def launch(self, client: Client, campaign_id: Any, body: Any = None) -> Reply:
        """Launch the campaign over the API (202) and run its chunks to the end; the
        launch as GET answers it then."""
        started = client.post(f"/v1/campaigns/{campaign_id}/launch", body)
        assert started.status == 202, started
        return self.launch_done(client, campaign_id, started.body["id"])

    def launch_done(self, client: Client, campaign_id: Any, launch_id: Any) -> Reply:
        self.run_launches()
        return client.get(f"/v1/campaigns/{campaign_id}/launches/{launch_id}")

    def tenant(self, name: str = "Acme Outreach") -> Client:
        tenant_id, issued = create_tenant(UnitOfWork(self.jobs), name)
        # the brand and contact a HELP reply names: a launch needs them (migration 0028)
        with self.admin.transaction():
            self.admin.execute("SELECT set_config('app.actor', %s, true)", (FIXTURE_ACTOR,))
            self.admin.execute(
                "UPDATE tenant_config SET brand_name = %s, help_contact = %s WHERE tenant_id = %s",
                (*HELP_IDENTITY.values(), tenant_id),
            )
        return Client(issued.key, tenant_id)

    def queued(self) -> list[dict[str, Any]]:
        """Every message on the outbound queue, taken off it."""
        taken: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return taken
            for message in batch:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                taken.append(json.loads(message["Body"]))

    def audit_rows(self, tenant_id: Any, kind: str = "access_denied") -> list[dict[str, Any]]:
        return self.admin.execute(
            "SELECT kind, subject_type, subject_id, detail FROM audit_log"
            " WHERE tenant_id = %s AND kind = %s ORDER BY created_at",
            (tenant_id, kind),
        ).fetchall()
