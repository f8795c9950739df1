"""`python -m tether_dev dev`: the whole system in one process tree.

Started in this order, stopped in the reverse one on SIGINT or SIGTERM (also when a
signal arrives half-way through starting): the database (embedded PostgreSQL unless
DATABASE_URL is set; migrated), moto (DynamoDB, SQS) with the template's tables and
queues, the functions (imported once), the provider sandbox (a child process), the
queue pollers and schedules, and last the gateway, so that once it answers everything
behind it is up. The embedded PostgreSQL is a server of its own and keeps running
afterwards, as it does between test runs (`make db-stop` stops it).

While running, ``{data dir}/dev.json`` says where everything listens, for scripts
(`python -m tether_dev invoke`, `python -m tether_dev sandbox reply`, the demo).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tether.config import PROJECT_ROOT, DatabaseSettings
from tether_dev.local.aws import MotoServer, client, provision, queue_url
from tether_dev.local.containers import ContainerPool, ContainerSetup
from tether_dev.local.faults import SqsSendFaults
from tether_dev.local.gateway import LocalGateway
from tether_dev.local.lambda_api import LocalLambdaApi
from tether_dev.local.logs import stack_logger, use_terminal_logs
from tether_dev.local.maildrop import MailDrop
from tether_dev.local.pollers import Invoke, QueuePoller, Scheduler
from tether_dev.local.runtime import (
    FunctionRunner,
    Invocation,
    local_environment,
)
from tether_dev.local.sandbox_process import SandboxOptions, SandboxProcess
from tether_dev.local.template import Route, Stack, load_template, read_stack
from tether_dev.local.websocket import LocalWebSocketApi

TEMPLATE = PROJECT_ROOT / "template.yaml"
STATE_FILE_NAME = "dev.json"
MAIL_DROP_DIR = "maildrop"  # under the data dir: the email drop
DEMO_TENANT = "Demo"  # the tenant whose key the banner prints


@dataclass(frozen=True)
class DevOptions:
    host: str = "127.0.0.1"
    gateway_port: int = 3000
    sandbox_port: int = 3001
    moto_port: int = 3002
    lambda_port: int = 3003  # 0 for any free port, for each of them
    websocket_port: int = 3004
    websocket_management_port: int = 3005  # the WebSocket API's @connections
    template: Path = TEMPLATE
    sandbox_failure_rate: float = 0.0  # sends answered 500 (retryable)
    sandbox_undelivered_rate: float = 0.0  # texts whose last callback is undelivered
    sandbox_latency_seconds: float = 0.0
    sandbox_callback_delay_seconds: float = 0.5
    log_level: str = "INFO"
    functions_log_level: str | None = None  # None: the template's (its LogLevel)
    json_logs: bool = False
    # services in processes of their own (the soak: they outlive a kill -9 of this one):
    # moto's endpoint and the sandbox's URL, started elsewhere, instead of our own
    aws_endpoint_url: str | None = None
    sandbox_url: str | None = None
    sqs_send_failure_rate: float = 0.0  # the functions' SQS sends that fail (local.faults)
    fault_seed: int = 0
    # every queue's visibility timeout, over the template's (6 x its function's timeout):
    # the soak kills the functions mid-batch and would wait minutes for the batch again
    queue_visibility_seconds: int | None = None
    # invocations at once (tether_dev.local.containers): 1 runs them in this process, one
    # at a time; more runs a pool of containers and as many pollers per queue
    concurrency: int = 1
    # template parameters, as `sam local --parameter-overrides` (those without a
    # default, the secret ARNs, have no local value unless given one here)
    parameter_overrides: tuple[tuple[str, str], ...] = ()


@dataclass
class RunningStack:
    """What `start_stack` started; `stop` ends it all, in reverse order (idempotent)."""

    stack: Stack
    database_url: str
    moto: MotoServer
    gateway: LocalGateway
    lambda_api: LocalLambdaApi
    websocket: LocalWebSocketApi | None
    sandbox: SandboxProcess
    pollers: list[QueuePoller]
    scheduler: Scheduler
    state_file: Path
    started_in_seconds: float
    _exit: ExitStack = field(repr=False)
    mail_drop: MailDrop | None = None  # the email drop (SES + S3), if the template has one

    def state(self) -> dict[str, Any]:
        return {
            "gateway_url": self.gateway.url,
            # the web console, served by the api function through the gateway
            "console_url": f"{self.gateway.url}/console/",
            "lambda_url": self.lambda_api.url,
            "sandbox_url": self.sandbox.url,
            "aws_endpoint_url": self.moto.url,
            "database_url": self.database_url,
            "webhook_url": sandbox_webhook_url(self.stack.routes, self.gateway.url),
            "sandbox_signing_secret": self.sandbox.signing_secret,
            "sandbox_api_token": self.sandbox.api_token,
            "websocket_url": self.websocket.url if self.websocket else None,
            "websocket_management_url": self.websocket.management_url if self.websocket else None,
            "queues": {q.logical_id: queue_url(self.moto.url, q.name) for q in self.stack.queues},
            "tables": {t.logical_id: t.name for t in self.stack.tables},
            "event_buses": list(self.stack.buses),
            # drop a .eml here: it reaches the inbound mail bucket and its function
            "mail_drop": str(self.mail_drop.folder) if self.mail_drop else None,
            "mail_bucket": self.mail_drop.bucket if self.mail_drop else None,
        }

    def stop(self) -> None:
        self._exit.close()


def sandbox_webhook_url(routes: list[Route], gateway_url: str) -> str:
    """Where the sandbox posts: the template's webhook route with the provider filled
    in, up to the account id, which the sandbox appends (the voice route beside it is
    the sandbox's to find: tether_dev.sandbox.calls)."""
    for route in routes:
        voice = "/voice/" in route.path
        if "{provider}" in route.path and route.path.endswith("{account_id}") and not voice:
            base = route.path.removesuffix("{account_id}").replace("{provider}", "sandbox")
            return gateway_url + base.rstrip("/")
    raise RuntimeError("template.yaml has no /.../{provider}/.../{account_id} webhook route")


def external_moto(endpoint: str | None) -> MotoServer | None:
    """moto already serving at `endpoint` (not ours to start or stop), or None."""
    if endpoint is None:
        return None
    parts = urlsplit(endpoint)
    return MotoServer(parts.hostname or "127.0.0.1", parts.port or 80)


def external_sandbox(url: str | None) -> SandboxProcess | None:
    """The sandbox already serving at `url` with the development secret and token (not
    ours to start or stop), or None."""
    if url is None:
        return None
    from tether_dev.sandbox.server import DEV_SIGNING_SECRET, SandboxConfig

    parts = urlsplit(url)
    options = SandboxOptions(parts.hostname or "127.0.0.1", parts.port or 80, webhook_url="")
    return SandboxProcess(options, None, DEV_SIGNING_SECRET, SandboxConfig().api_token)


def local_parameters(
    settings: DatabaseSettings, overrides: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Template parameters as the local stack runs them: the TLS mode is the local
    server's (DB_SSLMODE, else libpq's own prefer), not RDS Proxy's require."""
    return {"DbSslMode": settings.db_sslmode or "prefer", **dict(overrides)}


def start_stack(options: DevOptions, settings: DatabaseSettings | None = None) -> RunningStack:
    from tether.db.connection import conninfo_for
    from tether.db.migrations import apply_pending

    started = time.monotonic()
    settings = settings or DatabaseSettings()
    database_url = conninfo_for("admin", settings)
    applied = apply_pending(conninfo=database_url)
    stack_logger().info("database migrated", extra={"applied": len(applied)})

    with ExitStack() as exit_stack:
        moto = (
            external_moto(options.aws_endpoint_url)
            or MotoServer(options.host, options.moto_port).start()
        )
        exit_stack.callback(moto.stop)
        if options.sqs_send_failure_rate:
            SqsSendFaults(options.sqs_send_failure_rate, options.fault_seed).install()
        stack = read_stack(
            load_template(options.template),
            lambda name: queue_url(moto.url, name),
            local_parameters(settings, options.parameter_overrides),
        )
        if options.queue_visibility_seconds is not None:
            for queue in stack.queues:
                queue.attributes["VisibilityTimeout"] = str(options.queue_visibility_seconds)
        provision(stack, moto.url)

        def invoke_api(logical_id: str, event: dict[str, Any], request_id: str) -> Invocation:
            return invoke(stack.function(logical_id), event, request_id)

        # bound now (its URL is the stack's webhook base and the sandbox's), serving last
        gateway = LocalGateway(
            stack.routes, stack.stage, invoke_api, options.host, options.gateway_port
        )
        exit_stack.callback(gateway.close)
        # bound now (its @connections URL is in the functions' environment), serving later
        websocket = None
        if stack.websocket is not None:
            websocket = LocalWebSocketApi(
                stack.websocket,
                stack.stage,
                invoke_api,
                options.host,
                options.websocket_port,
                options.websocket_management_port,
            )
            exit_stack.callback(websocket.close)
        environment = local_environment(
            aws_endpoint_url=moto.url,
            database_url=database_url,
            webhook_base_url=gateway.url,
            websocket_management_url=websocket.management_url if websocket else None,
            websocket_url=websocket.url if websocket else None,
        )
        if options.functions_log_level:  # over the template's LogLevel
            environment["POWERTOOLS_LOG_LEVEL"] = options.functions_log_level
        invoke: Invoke
        if options.concurrency > 1:
            setup = ContainerSetup(
                options.log_level,
                options.json_logs,
                options.sqs_send_failure_rate,
                options.fault_seed,
            )
            pool = ContainerPool(stack, PROJECT_ROOT, environment, options.concurrency, setup)
            exit_stack.callback(pool.close)  # after the pollers: registered before them
            invoke = pool.start().invoke
        else:
            runner = FunctionRunner(stack, PROJECT_ROOT, environment)
            runner.warm()
            invoke = runner.invoke
        sandbox = (
            external_sandbox(options.sandbox_url)
            or SandboxProcess(
                SandboxOptions(
                    host=options.host,
                    port=options.sandbox_port,
                    webhook_url=sandbox_webhook_url(stack.routes, gateway.url),
                    failure_rate=options.sandbox_failure_rate,
                    undelivered_rate=options.sandbox_undelivered_rate,
                    latency_seconds=options.sandbox_latency_seconds,
                    callback_delay_seconds=options.sandbox_callback_delay_seconds,
                )
            ).start()
        )
        exit_stack.callback(sandbox.stop)
        sqs = client("sqs", moto.url)
        pollers = []
        for function in stack.functions:
            for source in function.queue_sources:
                queue = stack.queue(source.queue)
                poller = QueuePoller(
                    function,
                    source,
                    queue.name,
                    queue_url(moto.url, queue.name),
                    sqs,
                    invoke,
                    threads=options.concurrency,
                )
                pollers.append(poller.start())
                exit_stack.callback(poller.join, 35)  # an invocation in flight finishes
                exit_stack.callback(poller.stop)
        scheduler = Scheduler(stack.functions, invoke).start()
        exit_stack.callback(scheduler.join, 65)
        exit_stack.callback(scheduler.stop)
        mail_drop = None
        if any(function.bucket_sources for function in stack.functions):
            mail_drop = MailDrop(
                settings.tether_data_dir / MAIL_DROP_DIR,
                stack,
                client("s3", moto.url),
                invoke,
            ).start()
            exit_stack.callback(mail_drop.join, 65)
            exit_stack.callback(mail_drop.stop)
        lambda_api = LocalLambdaApi(stack, invoke, options.host, options.lambda_port)
        exit_stack.callback(lambda_api.close)
        lambda_api.start()
        if websocket is not None:
            websocket.start()
        state_file = settings.tether_data_dir / STATE_FILE_NAME
        running = RunningStack(
            stack,
            database_url,
            moto,
            gateway,
            lambda_api,
            websocket,
            sandbox,
            pollers,
            scheduler,
            state_file,
            0.0,
            exit_stack,
            mail_drop,
        )
        # written before the gateway answers: once it does, scripts find the rest
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(running.state(), indent=2))
        exit_stack.callback(state_file.unlink, missing_ok=True)
        gateway.start()
        exit_stack.callback(gateway.stop)
        running.started_in_seconds = time.monotonic() - started
        running._exit = exit_stack.pop_all()
    return running


def demo_api_key(database_url: str) -> str:
    """A fresh API key of the tenant "Demo" (made on the first start), for trying the
    API by hand; keys are kept hashed, so each start issues a new one."""
    from tether.db.connection import FreshConnections, as_role
    from tether.db.unit_of_work import UnitOfWork
    from tether.services.api_keys import create_tenant, issue_operator_key

    jobs = FreshConnections(as_role(database_url, "tether_jobs"))
    with UnitOfWork(jobs) as uow:
        tenant_id = uow.tenants.named(DEMO_TENANT)
    if tenant_id is None:
        return create_tenant(UnitOfWork(jobs), DEMO_TENANT)[1].key
    app = FreshConnections(as_role(database_url, "tether_app"))
    return issue_operator_key(
        UnitOfWork(app, tenant_id), tenant_id, f"make dev {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    ).key


def demo_key_line(database_url: str, waits: tuple[float, ...] = (0.5, 1, 2, 4, 5, 5)) -> str:
    """The banner's key line. The stack is already serving when it is printed, so a
    database that is down for a moment (a restart) is waited for, and one that stays
    down is said, never fatal: the stack goes on serving and recovers with it."""
    from tether.domain.errors import DependencyUnavailable

    def line(key: str) -> str:
        return f"  API key   {key}  (tenant {DEMO_TENANT!r}; try GET /v1/settings)"

    for wait in waits:
        with suppress(DependencyUnavailable):
            return line(demo_api_key(database_url))
        time.sleep(wait)
    try:
        return line(demo_api_key(database_url))
    except DependencyUnavailable as error:
        return f"  API key   none issued: {error}  (restart the stack for one)"


def banner(running: RunningStack) -> str:
    state = running.state()
    stack = running.stack
    lines = [
        f"Tether local stack ready in {running.started_in_seconds:.1f}s (stage {stack.stage})",
        f"  gateway   {state['gateway_url']}",
    ]
    lines += [
        f"    {route.method:<6} {route.path}{'  (mock)' if route.function is None else ''}"
        for route in stack.routes
    ]
    lines += [
        f"  console   {state['console_url']}  (sign in with the API key below)",
        f"  sandbox   {state['sandbox_url']}  webhooks to {state['webhook_url']}/<account id>",
        "            its account's secrets are sent to the API (kept in moto): `make demo` shows how",
        f"  lambda    {state['lambda_url']}/2015-03-31/functions/<name>/invocations"
        "  (Lambda's Invoke API)",
        f"  moto      {state['aws_endpoint_url']}  (DynamoDB, SQS, S3, Secrets Manager, EventBridge)",
    ]
    if running.mail_drop is not None:
        lines += [
            f"  mail drop {state['mail_drop']}  (a .eml put here goes to s3://"
            f"{state['mail_bucket']}/{running.mail_drop.prefix} and"
            f" {running.mail_drop.function.name}, as SES and S3 would)",
        ]
    if running.websocket is not None:
        lines += [
            f"  websocket {state['websocket_url']}/?api_key=<key>  (API Gateway WebSocket API:"
            f" {', '.join(running.websocket.api.routes)})",
            f"            @connections at {state['websocket_management_url']}"
            " (PostToConnection's endpoint)",
        ]
    lines += [
        f"  database  {state['database_url']}",
    ]
    lines += [
        f"  bus       {rule.bus}: rule {rule.logical_id} → {', '.join(t for t, _ in rule.targets)}"
        for rule in stack.rules
    ]
    lines += [
        f"  poller    {p.function.name} ← {p.source.queue} (batch {p.source.batch_size})"
        for p in running.pollers
    ]
    lines += [
        f"  schedule  {function.name} {schedule.expression}"
        for function, schedule, _ in running.scheduler.entries
    ]
    lines += [
        demo_key_line(running.database_url),
        f"  state     {running.state_file}",
        "Ctrl-C stops it; the embedded PostgreSQL keeps running (make db-stop).",
    ]
    return "\n".join(lines)


class StopRequested(Exception):
    """SIGTERM while starting: unwind what has started."""


def run_dev(options: DevOptions) -> int:
    if not options.json_logs:
        use_terminal_logs(options.log_level)
    stop = threading.Event()
    started = threading.Event()

    def on_signal(signum: int, _: object) -> None:
        if not started.is_set():
            raise StopRequested(signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    running: RunningStack | None = None
    try:
        running = start_stack(options)
        started.set()
        print(banner(running), flush=True)
        stop.wait()
        print("stopping...", flush=True)
    except StopRequested:
        print("stopping while starting...", flush=True)
    finally:
        started.set()  # from here a signal only asks again
        if running is not None:
            running.stop()
    print("stopped", flush=True)
    return 0
