"""Lambda's Invoke API for the running stack, as `sam local start-lambda` serves it:
``POST /2015-03-31/functions/{name}/invocations`` with the event as the body. A script
(or boto3's Lambda client with ``endpoint_url``) fires a schedule's function now, or
any function on any event, over HTTP.

The name is the code folder's (``timers``), the logical id or the local function name.
``X-Amz-Invocation-Type: Event`` answers 202 and runs it after; ``DryRun`` 204. A
failed function answers 200 with ``X-Amz-Function-Error: Unhandled``, as Lambda does.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tether_dev.local.logs import stack_logger
from tether_dev.local.runtime import Invocation
from tether_dev.local.serving import BackgroundServer, FramingError, LocalHttpServer, read_body
from tether_dev.local.template import STACK_NAME, Function, Stack, TemplateError
from tether_dev.wire import WholeResponseHandler

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")

Invoke = Callable[[Function, Any, str], Invocation]


class LocalLambdaApi(BackgroundServer):
    thread_name = "local-lambda-api"

    def __init__(self, stack: Stack, invoke: Invoke, host: str, port: int) -> None:
        self.stack = stack
        self.invoke = invoke
        self._listen(lambda: _LambdaServer((host, port), _LambdaHandler, self), host, port)

    def answer(
        self, path: str, invocation_type: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        match = _INVOKE_PATH.match(path)
        if match is None:
            return _error(404, "UnknownOperationException", f"no operation at {path}")
        name = match["name"].removeprefix(f"{STACK_NAME}-")
        try:
            function = self.stack.function(name)
        except TemplateError as error:
            return _error(404, "ResourceNotFoundException", str(error))
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "InvalidRequestContentException", "the payload is not JSON")
        request_id = str(uuid.uuid4())
        headers = {"x-amzn-RequestId": request_id, "Content-Type": "application/json"}
        if invocation_type == "DryRun":
            return 204, headers, b""
        if invocation_type == "Event":
            threading.Thread(
                target=self.invoke, args=(function, event, request_id), daemon=True
            ).start()
            return 202, headers, b""
        invocation = self.invoke(function, event, request_id)
        if invocation.failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
            return 200, headers, json.dumps(invocation.error_payload()).encode()
        return 200, headers, json.dumps(invocation.result, default=str).encode()


def _error(status: int, kind: str, message: str) -> tuple[int, dict[str, str], bytes]:
    headers = {"x-amzn-ErrorType": kind, "Content-Type": "application/json"}
    return status, headers, json.dumps({"Type": "User", "message": message}).encode()


class _LambdaServer(LocalHttpServer):
    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], api: LocalLambdaApi
    ) -> None:
        super().__init__(address, handler)
        self.api = api


class _LambdaHandler(WholeResponseHandler):
    server: _LambdaServer
    server_version = "TetherLocalLambda/1"
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        try:
            body = read_body(self.headers, self.rfile)
        except FramingError as error:
            self.close_connection = True
            self.send_error(error.status, error.message)
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        status, headers, data = self.server.api.answer(self.path, invocation_type, body)
        self.respond(status, headers.items(), data)
        stack_logger().info(
            f"invoke {self.path.split('/')[3] if self.path.count('/') > 3 else self.path} {status}",
            extra={
                "function_name": "lambda_api",
                "correlation_id": headers.get("x-amzn-RequestId"),
            },
        )

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is written by do_POST
