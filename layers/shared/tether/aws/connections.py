"""The WebSocket API's two outside things: the connections table (DynamoDB, TTL) and
API Gateway's @connections API of the stage (PostToConnection). Imported on first use,
so botocore is not loaded at a function's import."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from tether.domain.errors import DependencyUnavailable
from tether.domain.push import Connection, ConnectionGone, PushRefused

TENANT_INDEX = "by_tenant"  # template.yaml, ConnectionsTable's GSI


class ConnectionTable:
    """One item per open connection: its tenant, its stages, its expiry (the TTL)."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from tether.aws.clients import aws_client

            self._client = aws_client("dynamodb")
        return self._client

    def add(self, connection: Connection) -> None:
        self._call("put_item", TableName=self.table_name, Item=_item(connection))

    def remove(self, connection_id: str) -> None:
        self._call(
            "delete_item", TableName=self.table_name, Key={"connection_id": {"S": connection_id}}
        )

    def subscribe(self, connection_id: str, stages: Iterable[str]) -> Connection | None:
        """Set the stages of a connection still stored; None when it is not."""
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key={"connection_id": {"S": connection_id}},
                UpdateExpression="SET stages = :stages",
                ConditionExpression="attribute_exists(connection_id)",
                ExpressionAttributeValues={":stages": {"L": [{"S": s} for s in stages]}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise DependencyUnavailable("DynamoDB", str(error)) from error
        except BotoCoreError as error:
            raise DependencyUnavailable("DynamoDB", str(error)) from error
        return _connection(answer["Attributes"])

    def of_tenant(self, tenant_id: UUID, now: datetime) -> list[Connection]:
        """The tenant's connections (its GSI), without those past their expiry that
        DynamoDB's TTL has not deleted yet."""
        found: list[Connection] = []
        request: dict[str, Any] = dict(
            TableName=self.table_name,
            IndexName=TENANT_INDEX,
            KeyConditionExpression="tenant_id = :tenant",
            ExpressionAttributeValues={":tenant": {"S": str(tenant_id)}},
        )
        while True:
            page = self._call("query", **request)
            found += [_connection(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [c for c in found if not c.expired(now)]

    def _call(self, method: str, **arguments: Any) -> Any:
        try:
            return getattr(self.client, method)(**arguments)
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailable("DynamoDB", f"{method}: {error}") from error


def _item(connection: Connection) -> dict[str, Any]:
    return {
        "connection_id": {"S": connection.connection_id},
        "tenant_id": {"S": str(connection.tenant_id)},
        "connected_at": {"S": connection.connected_at.isoformat()},
        "stages": {"L": [{"S": s} for s in connection.stages]},
        # the TTL attribute: epoch seconds, as DynamoDB wants it
        "expires_at": {"N": str(int(connection.expires_at.timestamp()))},
    }


def _connection(item: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=item["connection_id"]["S"],
        tenant_id=UUID(item["tenant_id"]["S"]),
        connected_at=datetime.fromisoformat(item["connected_at"]["S"]).astimezone(UTC),
        stages=tuple(s["S"] for s in item.get("stages", {}).get("L", [])),
    )


class ConnectionsApi:
    """API Gateway's @connections API of the WebSocket stage
    (https://{api}.execute-api.{region}.amazonaws.com/{stage}; the local stack's own
    server locally), through boto3's apigatewaymanagementapi client."""

    def __init__(self, endpoint_url: str, client: Any | None = None) -> None:
        self.endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from tether.aws.clients import management_client

            self._client = management_client(self.endpoint_url)
        return self._client

    def post(self, connection_id: str, data: str) -> None:
        """Send one text frame. ConnectionGone when the socket is closed, PushRefused
        when @connections refuses the frame, DependencyUnavailable when it does not
        answer."""
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data.encode())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "GoneException":
                raise ConnectionGone(connection_id) from error
            raise PushRefused(str(error)) from error
        except BotoCoreError as error:
            raise DependencyUnavailable("API Gateway @connections", str(error)) from error
