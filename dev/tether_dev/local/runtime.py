"""Functions run in this process the way Lambda runs them: the handler module imported
from its code folder, the template's environment, a context that knows the timeout.

All functions share one process, and with it the cached connections and clients of
the `tether` package. So one invocation runs at a time (a lock), as in one Lambda
container: the package's connection per role and Powertools' logger state are not
made for two at once. Before each, the process environment becomes the function's:
its own variables from the template, none of the others'.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tether.observability import logger
from tether_dev.local.template import ACCOUNT_ID, REGION, Function, Stack, TemplateError, local_name

Handler = Callable[[Any, Any], Any]


@dataclass
class LocalContext:
    """What Powertools and the handlers read of Lambda's context object."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class RemoteError(Exception):
    """An invocation's exception as another process reported it (a container of
    `tether_dev.local.containers`): its class's name, message and last frames."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []

    def __reduce__(self) -> tuple[Any, ...]:
        return (RemoteError, (self.error_type, str(self), self.stack_trace))


@dataclass(frozen=True)
class Invocation:
    function: str
    result: Any
    error: BaseException | None
    duration_ms: float
    timed_out: bool

    @property
    def failed(self) -> bool:
        return self.error is not None or self.timed_out

    def error_payload(self) -> dict[str, Any]:
        """What `sam local invoke` prints for a failed invocation."""
        if self.timed_out and self.error is None:
            return {"errorMessage": f"Task timed out after {self.duration_ms / 1000:.2f} seconds"}
        error = self.error
        assert error is not None
        if isinstance(error, RemoteError):
            return {
                "errorMessage": str(error),
                "errorType": error.error_type,
                "stackTrace": error.stack_trace,
            }
        return {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_exception(error)[-4:],
        }


def local_environment(
    *,
    aws_endpoint_url: str,
    database_url: str | None,
    webhook_base_url: str | None = None,
    websocket_management_url: str | None = None,
    websocket_url: str | None = None,
) -> dict[str, str]:
    """What every function gets locally besides its own variables: what makes it talk
    to the local resources. `webhook_base_url` is the local gateway's URL, over the
    template's API URL (which has no local meaning): sends ask for their status
    callbacks there. `websocket_management_url` is the local WebSocket API's @connections
    server, over the template's execute-api URL: pushes are posted there; `websocket_url`
    is its client side, which the console's config.json names."""
    environment = {
        # boto3 sends every client here (botocore reads AWS_ENDPOINT_URL)
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        # the local stage: over the template's Stage (dev), since only here may `local:`
        # secrets, the sandbox provider and custom provider URLs be used (tether.config)
        "TETHER_STAGE": "local",
        # no EMF blobs and no X-Ray in a terminal
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    if database_url:
        environment["DATABASE_URL"] = database_url
    if webhook_base_url:
        environment["WEBHOOK_BASE_URL"] = webhook_base_url
    if websocket_management_url:
        environment["WEBSOCKET_MANAGEMENT_URL"] = websocket_management_url
    if websocket_url:
        environment["WEBSOCKET_URL"] = websocket_url
    return environment


def environment_for(
    function: Function, base: Mapping[str, str], declared: Iterable[str]
) -> tuple[dict[str, str], set[str]]:
    """The variables to set for `function`, and those to unset: another function's
    variable is not there, as it would not be in Lambda (a function that forgot one in
    the template fails here too)."""
    wanted = {**function.environment, **base}
    return wanted, set(declared) - wanted.keys()


class FunctionRunner:
    """Imports each function once and invokes one at a time, in its own environment."""

    def __init__(
        self, stack: Stack, project_root: Path, base_environment: Mapping[str, str]
    ) -> None:
        self._stack = stack
        self._root = project_root
        self._base = dict(base_environment)
        self._declared = {name for f in stack.functions for name in f.environment}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        # AWS only, and they would win over DATABASE_URL (a shell may have them set)
        for name in ("DB_SECRET_ARN", "DB_HOST"):
            os.environ.pop(name, None)

    def _enter(self, function: Function) -> None:
        """Lambda's environment is the process's: the only place the local stack
        writes os.environ, under the lock, before the function reads it."""
        wanted, unwanted = environment_for(function, self._base, self._declared)
        for name in unwanted:
            os.environ.pop(name, None)
        os.environ.update(wanted)
        from tether.config import database_settings

        database_settings.cache_clear()  # read again, with this DATABASE_URL
        # Powertools reads the level when the logger is made, long before this call
        if wanted.get("POWERTOOLS_LOG_LEVEL"):
            logger.setLevel(wanted["POWERTOOLS_LOG_LEVEL"])

    def handler(self, function: Function) -> Handler:
        handler = self._handlers.get(function.logical_id)
        if handler is None:
            self._enter(function)
            module = _import(self._root / function.module_path, function.logical_id)
            handler = getattr(module, function.handler_name)
            self._handlers[function.logical_id] = handler
        return handler

    def warm(self) -> None:
        """Import every function now, so the first request does not pay for it."""
        with self._lock:
            for function in self._stack.functions:
                self.handler(function)

    def invoke(self, function: Function, event: Any, request_id: str | None = None) -> Invocation:
        """Run `function` on `event` (after any invocation still running). The request
        id is the context's, so a gateway request and its function's lines share it."""
        with self._lock:
            context = LocalContext(
                function_name=local_name(function.logical_id),
                memory_limit_in_mb=function.memory_size,
                timeout_seconds=function.timeout,
                aws_request_id=request_id or str(uuid.uuid4()),
            )
            handler = self.handler(function)
            self._enter(function)
            started = time.monotonic()
            error: BaseException | None = None
            result: Any = None
            try:
                result = handler(event, context)
            except Exception as caught:
                error = caught
            duration_ms = (time.monotonic() - started) * 1000
        timed_out = duration_ms > function.timeout * 1000
        if error is not None:
            logger.exception(
                "function failed",
                extra={"function": function.name, "error": repr(error)},
                exc_info=error,
            )
        elif timed_out:
            # Lambda would have stopped it; its answer is lost there, so it is here.
            logger.error(
                "function ran past its timeout",
                extra={"function": function.name, "timeout_seconds": function.timeout},
            )
        return Invocation(function.name, result, error, duration_ms, timed_out)


def _import(path: Path, logical_id: str) -> ModuleType:
    if not path.is_file():
        raise TemplateError(f"{logical_id}: no handler module at {path}")
    name = f"tether_local_{logical_id}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TemplateError(f"{logical_id}: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
