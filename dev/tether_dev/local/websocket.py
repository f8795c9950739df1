"""A local API Gateway WebSocket API: a real WebSocket server (the `websockets`
package, threads) serving the template's WebSocket routes, and the stage's @connections
API on a port of its own, so the production `apigatewaymanagementapi` client pushes to
it through its endpoint URL.

What API Gateway does, done here the same way:
- $connect: each identity source of the route's REQUEST authorizer must be present
  (else 401, the authorizer is not called); the authorizer's "Unauthorized" error is
  401, any other failure 500, a Deny 403; then the $connect integration, whose non-2xx
  status refuses the handshake with that status. The authorizer's context (and its
  principalId) is `requestContext.authorizer` of every later event.
- each text frame (API Gateway closes a socket that sends a binary frame: 1003, and
  one whose message is over 128 KB: 1009): the route is `$request.body.<field>` of the frame read as JSON, else
  `$default`; a two-way route (a route response) sends the function's body back.
- a closed socket: $disconnect with its close code and reason.
- @connections: POST /@connections/{id} sends a frame, GET describes the connection,
  DELETE closes it; an unknown or closed id is 410 GoneException. Requests must be
  SigV4-signed (any credentials: there is no IAM here), as boto3 signs them.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tether_dev.local.logs import stack_logger
from tether_dev.local.runtime import Invocation
from tether_dev.local.serving import BackgroundServer, FramingError, LocalHttpServer, read_body
from tether_dev.local.template import ACCOUNT_ID, REGION, WebSocketApi, WebSocketRoute
from tether_dev.wire import WholeResponseHandler

# (function logical id, event, request id) → how the invocation went
Invoke = Callable[[str, dict[str, Any], str], Invocation]

CONNECT, DISCONNECT, DEFAULT = "$connect", "$disconnect", "$default"
LOCAL_API_ID = "localws"
# PostToConnection's payload limit, and a client message's
MAX_POST_BYTES = MAX_MESSAGE_BYTES = 128 * 1024
_CONNECTIONS_PATH = re.compile(r"/@connections/([^/]+)")


@dataclass
class _Socket:
    connection_id: str
    connected_at: datetime
    source_ip: str
    user_agent: str
    domain_name: str
    authorizer: dict[str, Any] | None
    connection: ServerConnection | None = None
    last_active_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class LocalWebSocketApi:
    """The WebSocket server (`url`) and its @connections API (`management_url`)."""

    def __init__(
        self,
        api: WebSocketApi,
        stage: str,
        invoke: Invoke,
        host: str = "127.0.0.1",
        port: int = 3004,
        management_port: int = 3005,
    ) -> None:
        self.api = api
        self.stage = stage
        self.invoke = invoke
        self._sockets: dict[str, _Socket] = {}
        self._opening: dict[int, _Socket] = {}  # handshakes accepted, handler not yet run
        self._lock = threading.Lock()
        try:
            self._server: Server = serve(
                self._serve_connection,
                host,
                port,
                process_request=self._connect,
                server_header=None,
                ping_interval=None,  # API Gateway sends no pings of its own
                max_size=MAX_MESSAGE_BYTES,
            )
        except OSError as error:
            raise OSError(f"{host}:{port} is in use ({error.strerror})") from error
        self._thread: threading.Thread | None = None
        try:
            self.management = _ManagementApi(self, host, management_port)
        except OSError:
            self._server.socket.close()
            raise

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    @property
    def management_url(self) -> str:
        return self.management.url

    def start(self) -> LocalWebSocketApi:
        self.management.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-websocket", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop both servers; open sockets are closed (1001) and get their $disconnect."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        else:
            self._server.socket.close()
        self.management.close()

    def socket(self, connection_id: str) -> _Socket | None:
        with self._lock:
            return self._sockets.get(connection_id)

    # -- $connect ----------------------------------------------------------------

    def _connect(self, connection: ServerConnection, request: Request) -> Response | None:
        started = time.monotonic()
        parts = urlsplit(request.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        source_ip = str(connection.remote_address[0])
        headers = list(request.headers.raw_items())
        socket = _Socket(
            connection_id=_connection_id(),
            connected_at=datetime.now(UTC),
            source_ip=source_ip,
            user_agent=request.headers.get("User-Agent", ""),
            domain_name=request.headers.get("Host", ""),
            authorizer=None,
        )
        route = self.api.routes.get(CONNECT)
        refusal = None
        if route is not None:
            refusal = self._authorize(route, socket, headers, query)
            if refusal is None and route.function is not None:
                refusal = self._run_connect(route.function, socket, headers, query)
        stack_logger().info(
            f"WS {CONNECT} {refusal[0] if refusal else 101}",
            extra={
                "ms": round((time.monotonic() - started) * 1000),
                "connection_id": socket.connection_id,
                "function_name": "websocket-gateway",
            },
        )
        if refusal is not None:
            status, message = refusal
            response = connection.respond(status, json.dumps({"message": message}))
            response.headers["Content-Type"] = "application/json"
            return response
        with self._lock:
            self._opening[id(connection)] = socket
        return None

    def _authorize(
        self,
        route: WebSocketRoute,
        socket: _Socket,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
    ) -> tuple[int, str] | None:
        if route.authorizer is None:
            return None
        if not all(_identity_value(s, headers, query) for s in route.identity_sources):
            return HTTPStatus.UNAUTHORIZED, "Unauthorized"
        request_id = str(uuid.uuid4())
        event = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{LOCAL_API_ID}"
            f"/{self.stage}/{CONNECT}",
            **_request_parts(headers, query),
            "stageVariables": {},
            "requestContext": self._context(socket, CONNECT, "CONNECT", request_id),
        }
        started = time.monotonic()
        invocation = self.invoke(route.authorizer, event, request_id)
        if invocation.failed:
            if invocation.error is not None and str(invocation.error) == "Unauthorized":
                return HTTPStatus.UNAUTHORIZED, "Unauthorized"
            return HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error"
        policy = invocation.result if isinstance(invocation.result, Mapping) else {}
        if not _allows(policy):
            return HTTPStatus.FORBIDDEN, "Forbidden"
        socket.authorizer = {
            **{k: v for k, v in (policy.get("context") or {}).items()},
            "principalId": policy.get("principalId"),
            "integrationLatency": round((time.monotonic() - started) * 1000),
        }
        return None

    def _run_connect(
        self,
        function: str,
        socket: _Socket,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
    ) -> tuple[int, str] | None:
        request_id = str(uuid.uuid4())
        event = {
            **_request_parts(headers, query),
            "requestContext": self._context(socket, CONNECT, "CONNECT", request_id),
            "isBase64Encoded": False,
        }
        invocation = self.invoke(function, event, request_id)
        if invocation.failed:
            return HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error"
        status = _status(invocation.result)
        if not 200 <= status < 300:
            return status, HTTPStatus(status).phrase if status in _KNOWN else "Refused"
        return None

    # -- frames and $disconnect --------------------------------------------------

    def _serve_connection(self, connection: ServerConnection) -> None:
        with self._lock:
            socket = self._opening.pop(id(connection))
            socket.connection = connection
            self._sockets[socket.connection_id] = socket
        try:
            for frame in connection:
                socket.last_active_at = datetime.now(UTC)
                if isinstance(frame, bytes):
                    connection.close(CloseCode.UNSUPPORTED_DATA, "binary frames are not supported")
                    break
                self._message(socket, frame)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._sockets.pop(socket.connection_id, None)
            self._disconnect(socket, connection)

    def _message(self, socket: _Socket, body: str) -> None:
        started = time.monotonic()
        route = self._route_for(body)
        request_id = str(uuid.uuid4())
        if route is None or route.function is None:
            self._send(socket, {"message": "Forbidden", "connectionId": socket.connection_id})
            return
        context = self._context(socket, route.route_key, "MESSAGE", request_id)
        context["messageId"] = secrets.token_urlsafe(9)
        event = {"requestContext": context, "body": body, "isBase64Encoded": False}
        invocation = self.invoke(route.function, event, request_id)
        if invocation.failed:
            self._send(
                socket,
                {
                    "message": "Internal server error",
                    "connectionId": socket.connection_id,
                    "requestId": request_id,
                },
            )
        elif route.two_way and isinstance(invocation.result, Mapping):
            answer = invocation.result.get("body")
            if isinstance(answer, str):
                self._send_text(socket, answer)
        stack_logger().info(
            f"WS {route.route_key}",
            extra={
                "ms": round((time.monotonic() - started) * 1000),
                "connection_id": socket.connection_id,
                "correlation_id": request_id,
                "function_name": "websocket-gateway",
            },
        )

    def _route_for(self, body: str) -> WebSocketRoute | None:
        field_name = self.api.route_selection_expression.removeprefix("$request.body.")
        key = None
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        if isinstance(message, dict) and isinstance(message.get(field_name), str):
            key = message[field_name]
        routes = self.api.routes
        if key is not None and key in routes and key not in (CONNECT, DISCONNECT):
            return routes[key]
        return routes.get(DEFAULT)

    def _disconnect(self, socket: _Socket, connection: ServerConnection) -> None:
        route = self.api.routes.get(DISCONNECT)
        if route is None or route.function is None:
            return
        request_id = str(uuid.uuid4())
        context = self._context(socket, DISCONNECT, "DISCONNECT", request_id)
        context["disconnectStatusCode"] = connection.close_code or 1006
        context["disconnectReason"] = connection.close_reason or ""
        headers = {
            "Host": socket.domain_name,
            "x-api-key": "",
            "X-Forwarded-For": "",
            "x-restapi": "",
        }
        event = {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": context,
            "isBase64Encoded": False,
        }
        self.invoke(route.function, event, request_id)

    def _context(
        self, socket: _Socket, route_key: str, event_type: str, request_id: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int(socket.connected_at.timestamp() * 1000),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": socket.source_ip, "userAgent": socket.user_agent},
            "requestId": request_id,
            "domainName": socket.domain_name,
            "connectionId": socket.connection_id,
            "apiId": LOCAL_API_ID,
        }
        if socket.authorizer is not None:
            context["authorizer"] = socket.authorizer
        return context

    def _send(self, socket: _Socket, payload: Mapping[str, Any]) -> None:
        self._send_text(socket, json.dumps(payload))

    def _send_text(self, socket: _Socket, text: str) -> None:
        if socket.connection is not None:
            with contextlib.suppress(ConnectionClosed):
                socket.connection.send(text)

    # -- @connections ------------------------------------------------------------

    def post(self, connection_id: str, data: bytes) -> bool:
        """Send `data` to the connection (a text frame when it is UTF-8); False when
        the connection is gone."""
        socket = self.socket(connection_id)
        if socket is None or socket.connection is None:
            return False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        try:
            socket.connection.send(text if text is not None else data)
        except ConnectionClosed:
            return False
        return True

    def drop(self, connection_id: str) -> bool:
        """Forget the connection before closing it, as API Gateway does: a GET or POST
        that follows the DELETE is already 410, while the close handshake and the
        $disconnect run on the connection's own thread."""
        with self._lock:
            socket = self._sockets.get(connection_id)
            if socket is None or socket.connection is None:
                return False
            del self._sockets[connection_id]
        socket.connection.close()
        return True


_KNOWN = {s.value for s in HTTPStatus}


_ID_ALPHABET = string.ascii_letters + string.digits


def _connection_id() -> str:
    """Of the shape API Gateway's have: 11 letters and digits, then '='. Never '+' or
    '/' (base64's): a '/' split the @connections path, and one id in six came back 404."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(11)) + "="


def _status(result: Any) -> int:
    if isinstance(result, Mapping):
        try:
            return int(result.get("statusCode", 200))
        except (TypeError, ValueError):
            return 500
    return 200


def _allows(policy: Mapping[str, Any]) -> bool:
    """An IAM policy that allows execute-api:Invoke, and denies nothing."""
    statements = (policy.get("policyDocument") or {}).get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    effects = [
        s.get("Effect")
        for s in statements
        if isinstance(s, Mapping) and "execute-api:Invoke" in _as_list(s.get("Action"))
    ]
    return "Allow" in effects and "Deny" not in effects


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _identity_value(
    source: str, headers: list[tuple[str, str]], query: list[tuple[str, str]]
) -> str | None:
    kind, _, name = source.removeprefix("route.request.").partition(".")
    pairs = query if kind == "querystring" else headers if kind == "header" else []
    matches = name.lower() if kind == "header" else name
    for key, value in pairs:
        if (key.lower() if kind == "header" else key) == matches and value:
            return value
    return None


def _request_parts(headers: list[tuple[str, str]], query: list[tuple[str, str]]) -> dict[str, Any]:
    """headers, multiValueHeaders, and the query string's two forms (absent when empty)."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    parts: dict[str, Any] = {
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
    }
    if query:
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        parts["queryStringParameters"] = {n: v[-1] for n, v in multi_query.items()}
        parts["multiValueQueryStringParameters"] = multi_query
    return parts


class _ManagementApi(BackgroundServer):
    thread_name = "local-websocket-connections"

    def __init__(self, api: LocalWebSocketApi, host: str, port: int) -> None:
        self.api = api
        self._listen(lambda: _ManagementServer((host, port), _ManagementHandler, api), host, port)


class _ManagementServer(LocalHttpServer):
    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        api: LocalWebSocketApi,
    ) -> None:
        super().__init__(address, handler)
        self.api = api


class _ManagementHandler(WholeResponseHandler):
    server: _ManagementServer
    server_version = "TetherLocalConnections/1"
    protocol_version = "HTTP/1.1"
    timeout = 30

    def _handle(self) -> None:
        try:
            body = read_body(self.headers, self.rfile, limit=MAX_POST_BYTES)
        except FramingError as error:
            code = "PayloadTooLargeException" if error.status == 413 else "BadRequestException"
            self._answer(error.status, {"message": error.message}, code)
            return
        found = _CONNECTIONS_PATH.fullmatch(urlsplit(self.path).path)
        if found is None:
            self._answer(404, {"message": "Not Found"}, "NotFoundException")
            return
        if not (self.headers.get("Authorization") or "").startswith("AWS4-HMAC-SHA256 "):
            self._answer(403, {"message": "Missing Authentication Token"}, "ForbiddenException")
            return
        connection_id = unquote(found.group(1))
        api = self.server.api
        if self.command == "POST":
            if api.post(connection_id, body):
                self._answer(200, None)
            else:
                self._gone()
        elif self.command == "DELETE":
            if api.drop(connection_id):
                self._answer(204, None)
            else:
                self._gone()
        elif self.command == "GET":
            socket = api.socket(connection_id)
            if socket is None:
                self._gone()
                return
            self._answer(
                200,
                {  # the wire names (botocore maps them to ConnectedAt, Identity...)
                    "connectedAt": socket.connected_at.isoformat(),
                    "identity": {"sourceIp": socket.source_ip, "userAgent": socket.user_agent},
                    "lastActiveAt": socket.last_active_at.isoformat(),
                },
            )
        else:
            self._answer(405, {"message": "Method Not Allowed"}, "BadRequestException")

    def _gone(self) -> None:
        self._answer(410, {"message": None}, "GoneException")

    def _answer(self, status: int, payload: Any, error_type: str | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = [("Content-Type", "application/json")]
        if error_type is not None:
            headers.append(("x-amzn-ErrorType", error_type))
        headers.append(("x-amzn-RequestId", str(uuid.uuid4())))
        self.respond(status, headers, body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass
