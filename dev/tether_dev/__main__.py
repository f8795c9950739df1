"""Command line: ``python -m tether_dev migrate | db-url | db-stop | schema |
tenant create NAME | dev | demo | invoke | sandbox``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from tether.config import PROJECT_ROOT, database_settings
from tether.db.connection import conninfo_for
from tether.db.migrations import MIGRATIONS_DIR, MigrationError, apply_pending


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tether_dev")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "migrate", help="apply pending migrations (embedded database when DATABASE_URL is unset)"
    )
    db_url = commands.add_parser("db-url", help="print the connection URL of a database role")
    db_url.add_argument("--role", choices=("admin", "app", "jobs"), default="admin")
    commands.add_parser("db-stop", help="stop the embedded PostgreSQL of this checkout")
    commands.add_parser(
        "schema", help="write schema.sql: the schema of a scratch database migrated from nothing"
    )
    tenant = commands.add_parser("tenant", help="manage tenants")
    tenant_commands = tenant.add_subparsers(dest="tenant_command", required=True)
    create = tenant_commands.add_parser(
        "create", help="create a tenant and print its first API key (shown only this once)"
    )
    create.add_argument("name")
    _add_local_commands(commands)
    soak = commands.add_parser("soak", help="the whole system under many faults at once")
    soak.add_argument("--seed", type=int, help="of every drawn fault (default: random)")
    soak.add_argument("--short", action="store_true", help="the 2-minute version")
    soak.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    soak.add_argument("--leads", type=int, help="over the plan's (full: 5,000; short: 40)")
    args = parser.parse_args(argv)

    if args.command == "soak":
        from tether_dev.soak import main as soak_main

        return soak_main(args.seed, args.short, args.keep, args.leads)

    if args.command == "tenant":
        return _create_tenant(args.name)
    if args.command in ("dev", "invoke", "sandbox", "demo", "deploy-check", "moto"):
        from tether_dev.local import cli

        return cli.run(args)

    if args.command == "schema":
        from tether_dev.schema import write_schema

        print(f"wrote {write_schema().relative_to(PROJECT_ROOT)}")
        return 0

    if args.command == "db-stop":
        from tether.db.embedded import stop_embedded

        stopped = stop_embedded(database_settings().tether_data_dir)
        print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
        return 0

    if args.command == "db-url":
        print(conninfo_for(args.role))
        return 0

    started = time.monotonic()
    try:
        applied = apply_pending(MIGRATIONS_DIR)
    except MigrationError as error:
        print(f"migrate: {error}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    if applied:
        print(f"applied {len(applied)} migration(s) in {elapsed:.2f}s: {', '.join(applied)}")
    else:
        print(f"database is up to date ({elapsed:.2f}s)")
    return 0


def _create_tenant(name: str) -> int:
    from tether.db.connection import FreshConnections
    from tether.db.unit_of_work import UnitOfWork
    from tether.domain.errors import TetherError
    from tether.services.api_keys import create_tenant

    try:
        # the jobs role: a tenant has no tenant of its own to act as until it exists
        tenant_id, issued = create_tenant(UnitOfWork(FreshConnections(conninfo_for("jobs"))), name)
    except TetherError as error:
        print(f"tenant create: {error}", file=sys.stderr)
        return 1
    print(f"tenant {tenant_id} created")
    print(f"API key (shown once, store it now): {issued.key}")
    return 0


def _add_local_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = commands.add_parser(
        "dev", help="run the local stack: database, moto, gateway, pollers, schedules, sandbox"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000, help="the gateway's port (0: any free)")
    dev.add_argument("--sandbox-port", type=int, default=3001)
    dev.add_argument("--moto-port", type=int, default=3002)
    dev.add_argument("--lambda-port", type=int, default=3003, help="Lambda's Invoke API")
    dev.add_argument("--websocket-port", type=int, default=3004, help="the WebSocket API")
    dev.add_argument(
        "--websocket-management-port",
        type=int,
        default=3005,
        help="the WebSocket API's @connections (PostToConnection)",
    )
    dev.add_argument(
        "--sandbox-failure-rate",
        type=float,
        default=0.0,
        help="share of sends the sandbox refuses with a retryable 500",
    )
    dev.add_argument(
        "--sandbox-undelivered-rate",
        type=float,
        default=0.0,
        help="share of texts whose last status callback is undelivered",
    )
    dev.add_argument("--sandbox-latency", type=float, default=0.0, help="seconds before each send")
    dev.add_argument(
        "--sandbox-callback-delay", type=float, default=0.5, help="seconds between statuses"
    )
    dev.add_argument(
        "--aws-endpoint-url", help="moto serving elsewhere (python -m tether_dev moto)"
    )
    dev.add_argument("--sandbox-url", help="a sandbox serving elsewhere (sandbox serve)")
    dev.add_argument(
        "--sqs-send-failure-rate",
        type=float,
        default=0.0,
        help="share of the functions' SQS sends that fail (fault injection)",
    )
    dev.add_argument("--fault-seed", type=int, default=0, help="seed of the injected faults")
    dev.add_argument(
        "--queue-visibility", type=int, help="seconds, over every queue's VisibilityTimeout"
    )
    dev.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="invocations at once: more than 1 runs the functions in that many containers"
        " (processes) and polls each queue with as many pollers, as Lambda scales out",
    )
    dev.add_argument(
        "--log-level", help="the stack's and the functions' (default: INFO and the template's)"
    )
    dev.add_argument("--json-logs", action="store_true", help="Powertools JSON, as in Lambda")
    demo = commands.add_parser(
        "demo", help="the demo scenario against the running stack (or one started for it)"
    )
    demo.add_argument("--wait", type=float, default=60.0, help="seconds each step may take")
    commands.add_parser(
        "deploy-check",
        help="build template.yaml, deploy it into the ministack emulator, run the demo there",
    )
    invoke = commands.add_parser(
        "invoke", help="run one function on one event, like `sam local invoke`"
    )
    for command in (dev, invoke):
        command.add_argument(
            "--parameter-overrides",
            nargs="*",
            default=[],
            metavar="KEY=VALUE",
            help="template parameters (as sam local); the others take their Default",
        )
    invoke.add_argument("function", help="the code folder's name (webhook) or the logical id")
    invoke.add_argument("event", help="a JSON event file, e.g. events/sweeper.json; - for stdin")

    sandbox = commands.add_parser("sandbox", help="act on the running stack's provider sandbox")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    reply = sandbox_commands.add_parser("reply", help="text one of our numbers as a lead")
    reply.add_argument("--from", dest="from_number", required=True, help="the lead, E.164")
    reply.add_argument("--to", dest="to_number", required=True, help="our number, E.164")
    reply.add_argument(
        "--account", help="the provider account (default: the one that last sent from --to)"
    )
    reply.add_argument("--sandbox-url", help="default: the running stack's (its dev.json)")
    reply.add_argument("text")
    serve = sandbox_commands.add_parser("serve", help="run the sandbox alone (the stack does)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3001)
    serve.add_argument("--webhook-url", required=True, help="webhooks go to URL/<account id>")
    serve.add_argument("--failure-rate", type=float, default=0.0)
    serve.add_argument("--undelivered-rate", type=float, default=0.0)
    serve.add_argument("--latency", type=float, default=0.0)
    serve.add_argument("--callback-delay", type=float, default=0.5)
    serve.add_argument("--seed", type=int, default=0, help="of the faults drawn at a rate")
    serve.add_argument("--timeout-rate", type=float, default=0.0, help="accepted, answered late")
    serve.add_argument("--rate-limited-rate", type=float, default=0.0, help="answered 429")
    serve.add_argument("--latency-jitter", type=float, default=0.0, help="plus up to this")
    serve.add_argument("--stall", type=float, default=30.0, help="how late a timeout answers")
    serve.add_argument(
        "--intermediate-statuses", default="queued,sent", help="called back before the last"
    )
    serve.add_argument(
        "--callback-lanes", type=int, default=1, help="status callbacks posted at once"
    )
    moto = commands.add_parser("moto", help="moto's server alone: DynamoDB, SQS, ... (the soak)")
    moto.add_argument("--host", default="127.0.0.1")
    moto.add_argument("--port", type=int, default=3002)


if __name__ == "__main__":
    sys.exit(main())
