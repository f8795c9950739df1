"""The local commands of ``python -m tether_dev``: dev, invoke, sandbox reply."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tether.config import PROJECT_ROOT, DatabaseSettings
from tether_dev.local.stack import STATE_FILE_NAME, TEMPLATE, DevOptions, local_parameters, run_dev


def run(args: argparse.Namespace) -> int:
    from tether_dev.local.template import TemplateError

    try:
        return _run(args)
    except (TemplateError, OSError) as error:  # a wrong name, a port in use, no such file
        print(f"{args.command}: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "dev":
        return run_dev(
            DevOptions(
                host=args.host,
                gateway_port=args.port,
                sandbox_port=args.sandbox_port,
                moto_port=args.moto_port,
                lambda_port=args.lambda_port,
                websocket_port=args.websocket_port,
                websocket_management_port=args.websocket_management_port,
                sandbox_failure_rate=args.sandbox_failure_rate,
                sandbox_undelivered_rate=args.sandbox_undelivered_rate,
                sandbox_latency_seconds=args.sandbox_latency,
                sandbox_callback_delay_seconds=args.sandbox_callback_delay,
                log_level=(args.log_level or "INFO").upper(),
                functions_log_level=args.log_level.upper() if args.log_level else None,
                json_logs=args.json_logs,
                parameter_overrides=tuple(parameter_pairs(args.parameter_overrides)),
                aws_endpoint_url=args.aws_endpoint_url,
                sandbox_url=args.sandbox_url,
                sqs_send_failure_rate=args.sqs_send_failure_rate,
                fault_seed=args.fault_seed,
                queue_visibility_seconds=args.queue_visibility,
                concurrency=args.concurrency,
            )
        )
    if args.command == "moto":
        from tether_dev.local.aws import serve_moto

        return serve_moto(args.host, args.port)
    if args.command == "demo":
        return demo(args.wait)
    if args.command == "deploy-check":
        return deploy_check()
    if args.command == "invoke":
        return invoke(args.function, args.event, parameter_pairs(args.parameter_overrides))
    if args.sandbox_command == "serve":
        from tether_dev.local.sandbox_process import serve

        return serve(args)
    return sandbox_reply(
        args.from_number, args.to_number, args.text, args.account, args.sandbox_url
    )


def deploy_check() -> int:
    from tether_dev.local.demo import DemoError
    from tether_dev.local.deploy_check import DeployCheckFailed, run_deploy_check

    try:
        run_deploy_check()
    except (DeployCheckFailed, DemoError) as error:
        print(f"deploy-check failed: {error}", file=sys.stderr)
        return 1
    return 0


def running_state(settings: DatabaseSettings | None = None) -> dict[str, Any] | None:
    """Where the running stack listens (its dev.json), or None when none runs."""
    import urllib3

    path = (settings or DatabaseSettings()).tether_data_dir / STATE_FILE_NAME
    try:
        state: dict[str, Any] = json.loads(path.read_text())
        urllib3.request("GET", state["aws_endpoint_url"], timeout=2, retries=False)
    except (OSError, ValueError, KeyError, urllib3.exceptions.HTTPError):
        return None
    return state


def demo(wait_seconds: float) -> int:
    """The demo scenario against the running stack, or against one started for it (and
    stopped after)."""
    import os
    import signal
    import subprocess
    import time

    from tether_dev.local.client import LocalStack
    from tether_dev.local.demo import DemoError, run_demo

    started: subprocess.Popen[bytes] | None = None
    state = running_state()
    try:
        if state is None:
            print("no local stack running: starting one (make dev) for the demo")
            started = subprocess.Popen(
                [sys.executable, "-m", "tether_dev", "dev", "--log-level", "WARNING"],
                cwd=PROJECT_ROOT,
                env=os.environ.copy(),
            )
            deadline = time.monotonic() + 120
            while (state := running_state()) is None:
                if started.poll() is not None or time.monotonic() > deadline:
                    print("demo: the local stack did not start", file=sys.stderr)
                    return 1
                time.sleep(0.3)
        run_demo(LocalStack(state), wait_seconds=wait_seconds)
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    finally:
        if started is not None:
            started.send_signal(signal.SIGINT)
            started.wait(timeout=60)
    return 0


def parameter_pairs(items: list[str]) -> list[tuple[str, str]]:
    """KEY=VALUE arguments; OSError-free: a malformed one is a TemplateError."""
    from tether_dev.local.template import TemplateError

    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TemplateError(f"--parameter-overrides takes KEY=VALUE, not {item!r}")
        pairs.append((key, value))
    return pairs


def invoke(
    function_name: str, event_path: str, parameter_overrides: list[tuple[str, str]] | None = None
) -> int:
    """One function on one event, as `sam local invoke` does: the template's
    environment, the local resources (the running stack's, or a moto of its own for
    this call), logs on stderr and the answer as JSON on stdout."""
    from tether.db.migrations import apply_pending
    from tether_dev.local.aws import provision, queue_url
    from tether_dev.local.logs import use_terminal_logs
    from tether_dev.local.runtime import FunctionRunner, local_environment
    from tether_dev.local.template import load_template, read_stack

    use_terminal_logs(stream=sys.stderr)
    event = json.loads(sys.stdin.read() if event_path == "-" else Path(event_path).read_text())
    settings = DatabaseSettings()
    state = running_state(settings)
    with _aws_endpoint(state) as endpoint:
        stack = read_stack(
            load_template(TEMPLATE),
            lambda name: queue_url(endpoint, name),
            local_parameters(settings, parameter_overrides or []),
        )
        function = stack.function(function_name)
        if state is None:
            provision(stack, endpoint)
            database_url = None
            apply_pending()
        else:
            database_url = state["database_url"]
        base = local_environment(
            aws_endpoint_url=endpoint,
            database_url=database_url,
            webhook_base_url=state["gateway_url"] if state is not None else None,
        )
        invocation = FunctionRunner(stack, PROJECT_ROOT, base).invoke(function, event)
    if invocation.failed:
        print(json.dumps(invocation.error_payload(), indent=2))
        return 1
    print(json.dumps(invocation.result, indent=2, default=str))
    return 0


@contextmanager
def _aws_endpoint(state: dict[str, Any] | None) -> Iterator[str]:
    if state is not None:
        yield str(state["aws_endpoint_url"])
        return
    from tether_dev.local.aws import MotoServer

    print("no local stack running: a moto of its own for this call", file=sys.stderr)
    moto = MotoServer("127.0.0.1", 0).start()
    try:
        yield moto.url
    finally:
        moto.stop()


def sandbox_reply(
    from_number: str, to_number: str, text: str, account: str | None, sandbox_url: str | None
) -> int:
    """A lead texts one of our numbers through the running sandbox."""
    import urllib3

    if sandbox_url is None:
        state = running_state()
        if state is None:
            print("no local stack running (start `make dev`) and no --sandbox-url", file=sys.stderr)
            return 2
        sandbox_url = str(state["sandbox_url"])
    payload: dict[str, Any] = {"from": from_number, "to": to_number, "body": text}
    if account:
        payload["account_id"] = account
    response = urllib3.request(
        "POST",
        f"{sandbox_url.rstrip('/')}/sandbox/replies",
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        timeout=30,
        retries=False,
    )
    print(response.data.decode())
    answer = response.json() if response.status == 202 else {}
    webhook_status = answer.get("webhook_status")
    return 0 if isinstance(webhook_status, int) and webhook_status < 300 else 1
