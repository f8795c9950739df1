"""What a message costs in function invocations, database work and AWS requests,
measured, and what that makes per million messages (bench/cost_model.py's arithmetic).

Runs the local stack in this process (tether_dev.local.stack, one invocation at a time,
as one Lambda container: every function imported from template.yaml, moto's SQS,
DynamoDB and EventBridge, the sandbox provider over real HTTP, against a scratch
database) and sets a tenant up through the API: the sandbox as its provider, a pool of
numbers, a campaign with `--leads` leads. Then three phases, each waited out until
every queue is empty and every invocation has ended:

- launch: one launch of the campaign (the API's 202, LaunchQueue → launch function
  storing the first messages, OutboundQueue bundles of 10 → outbound function → the
  sandbox), then each text's status callbacks through the webhook and inbound functions
  and the events they record through deliver_events;
- api: one POST /v1/messages per lead, and the same chain after it;
- received: one reply per lead (the sandbox posts it to the webhook → inbound →
  deliver_events), bodies that need no answer (an email, a call request, a refusal),
  so no send of ours is counted as the reply's.

Every handler call is wrapped: its wall time, its thread's CPU time (the process's as
well: moto and the gateway run in this process), the database statements and round
trips (bench/outbound.py's counter) and the time inside database calls, the provider
sends, and each AWS request it made, with its billed units (SQS's 64 KB chunks,
DynamoDB's units from the item's size). The local SQS poller's receives and deletes are
the event source mapping's, counted for the queue's function. The scheduled functions
(timers, sweeper, pool_release) run on their own clock: shown, never counted per message.
The functions log at INFO, as the template deploys them, into a scratch file: the bytes
are what CloudWatch Logs would ingest.

Prints a table per phase (medians per invocation), the cost per million messages and
the concurrency at 100 million a day; the last line is one JSON object.

    .venv/bin/python bench/cost.py [--leads 100]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench import cost_model as model
from bench import procs
from bench.outbound import counting_round_trips

DATABASE = "tether_bench_cost"
POOL = "Cost Pool"
NUMBERS = [f"+1415555{n:04d}" for n in range(400, 410)]
CHECK_IN = "Checking in: still thinking of selling?"
REPLIES = ["my email is lead{n}@example.com", "yes, call me tomorrow", "not interested, thanks"]
BACKGROUND = {"timers", "sweeper", "pool_release"}  # scheduled: not per message
SYNC_API = {"webhook", "api"}  # behind API Gateway's REST API: one request each
QUEUES = ("InboundQueue", "OutboundQueue", "LaunchQueue", "EventsQueue")
WAIT_SECONDS = 240.0


# -- what each invocation did ---------------------------------------------------------


@dataclass
class Invocation:
    function: str
    records: int
    started: float
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    process_cpu_ms: float = 0.0
    db_statements: int = 0
    db_round_trips: int = 0
    db_ms: float = 0.0
    provider_calls: int = 0
    thread: int | None = None


@dataclass(frozen=True)
class AwsCall:
    """One AWS request: whose (an invocation's function, or `esm:<function>` for the
    event source mapping's), when, and its billed units."""

    owner: str
    at: float
    service: str
    operation: str
    units: float  # SQS requests, DynamoDB WRU or RRU, EventBridge events; 1 otherwise
    empty_receive: bool = False


@dataclass
class Ledger:
    invocations: list[Invocation] = field(default_factory=list)
    aws: list[AwsCall] = field(default_factory=list)
    running: Invocation | None = None
    db_ms: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def busy(self) -> bool:
        return self.running is not None


LEDGER = Ledger()


def measured(
    function: str, handler: Callable[[Any, Any], Any], counts: Mapping[str, int]
) -> Callable[[Any, Any], Any]:
    """`handler` with its invocations recorded in LEDGER (the stack runs one at a time);
    `counts` is counting_round_trips' running count."""

    def run(event: Any, context: Any) -> Any:
        records = event.get("Records") if isinstance(event, dict) else None
        record = Invocation(
            function, len(records) if records else 1, time.monotonic(), thread=threading.get_ident()
        )
        before = (counts["statements"], counts["round_trips"], LEDGER.db_ms)
        # the thread's CPU is the function's own (moto and the gateway run in other threads
        # of this process: they are in the process's); a thread the function starts
        # (SqsQueue.send_batch's, past 10 bodies) is only in the process's
        cpu, process_cpu, wall = time.thread_time(), time.process_time(), time.perf_counter()
        LEDGER.running = record
        try:
            return handler(event, context)
        finally:
            record.wall_ms = (time.perf_counter() - wall) * 1000
            record.cpu_ms = (time.thread_time() - cpu) * 1000
            record.process_cpu_ms = (time.process_time() - process_cpu) * 1000
            record.db_statements = counts["statements"] - before[0]
            record.db_round_trips = counts["round_trips"] - before[1]
            record.db_ms = LEDGER.db_ms - before[2]
            LEDGER.running = None
            with LEDGER.lock:
                LEDGER.invocations.append(record)

    return run


@contextmanager
def timing_database() -> Iterator[None]:
    """Add the time spent inside database calls to LEDGER.db_ms: each statement outside
    a pipeline, each end of a transaction, each pipeline block (its statements go
    together at its end). Installed over counting_round_trips' wrappers."""
    originals = {
        name: getattr(psycopg.Connection, name)
        for name in ("execute", "commit", "rollback", "pipeline")
    }
    depth: dict[int, int] = {}

    def timed(name: str) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if depth.get(id(self)):
                return originals[name](self, *args, **kwargs)
            started = time.perf_counter()
            try:
                return originals[name](self, *args, **kwargs)
            finally:
                LEDGER.db_ms += (time.perf_counter() - started) * 1000

        return wrapper

    @contextmanager
    def pipeline(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        outer = not depth.get(id(self))
        depth[id(self)] = depth.get(id(self), 0) + 1
        started = time.perf_counter()
        try:
            with originals["pipeline"](self, *args, **kwargs) as block:
                yield block
        finally:
            depth[id(self)] -= 1
            if outer:
                LEDGER.db_ms += (time.perf_counter() - started) * 1000

    replacements = {name: timed(name) for name in ("execute", "commit", "rollback")}
    replacements["pipeline"] = pipeline
    for name, replacement in replacements.items():
        setattr(psycopg.Connection, name, replacement)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(psycopg.Connection, name, original)


# -- AWS requests and their billed units ------------------------------------------------


def attribute_bytes(value: Any) -> int:
    """An attribute value's size as DynamoDB counts it, roughly: strings and binaries by
    length, numbers about half their digits, maps and lists their members plus 3."""
    if not isinstance(value, dict) or len(value) != 1:
        return len(json.dumps(value, default=str))
    (kind, inner), *_ = value.items()
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        return len(str(inner)) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k) + attribute_bytes(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(attribute_bytes(v) for v in inner)
    return len(json.dumps(inner, default=str))


def item_bytes(item: Mapping[str, Any] | None) -> int:
    return sum(len(name) + attribute_bytes(value) for name, value in (item or {}).items())


def billed_units(service: str, operation: str, params: Mapping[str, Any], answer: Any) -> float:
    if service == "sqs":
        if operation == "SendMessage":
            return model.sqs_billed_requests(len(params.get("MessageBody", "").encode()))
        if operation == "SendMessageBatch":
            size = sum(len(e.get("MessageBody", "").encode()) for e in params.get("Entries", []))
            return model.sqs_billed_requests(size)
        if operation == "ReceiveMessage":
            size = sum(len(m.get("Body", "").encode()) for m in answer.get("Messages", []))
            return model.sqs_billed_requests(size)
        return 1
    if service == "dynamodb":
        if operation in ("PutItem", "DeleteItem"):
            return model.dynamodb_write_units(item_bytes(params.get("Item") or params.get("Key")))
        if operation == "UpdateItem":
            size = item_bytes(params.get("Key")) + item_bytes(
                params.get("ExpressionAttributeValues")
            )
            return model.dynamodb_write_units(size)
        if operation == "GetItem":
            return model.dynamodb_read_units(
                item_bytes(answer.get("Item")), consistent=bool(params.get("ConsistentRead"))
            )
        if operation == "Query":
            size = sum(item_bytes(i) for i in answer.get("Items", []))
            return model.dynamodb_read_units(size, consistent=bool(params.get("ConsistentRead")))
        return 1
    if service == "events" and operation == "PutEvents":
        return len(params.get("Entries", []))
    return 1


@contextmanager
def counting_aws_requests() -> Iterator[None]:
    """Record every AWS request an invocation (or the local SQS poller, Lambda's event
    source mapping) makes, in LEDGER.aws; this bench's own requests are not recorded."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call  # type: ignore[attr-defined]
    main = threading.main_thread()

    def make_api_call(self: Any, operation: str, params: Any) -> Any:
        answer = original(self, operation, params)
        thread = threading.current_thread()
        running = LEDGER.running
        owner: str | None = None
        if running is not None and thread.ident == running.thread:
            owner = running.function  # invoked on a poller's (or the gateway's) thread
        elif thread.name.startswith("poller-"):  # the poller's own receive and delete
            owner = "esm:" + thread.name.removeprefix("poller-").rsplit("-", 1)[0]
        elif running is not None and thread is not main:
            owner = running.function  # a thread it started (SqsQueue.send_batch's)
        if owner is not None:
            service = self.meta.service_model.service_name
            empty = operation == "ReceiveMessage" and not answer.get("Messages")
            units = 0.0 if empty else billed_units(service, operation, params, answer)
            call = AwsCall(owner, time.monotonic(), service, operation, units, empty)
            with LEDGER.lock:
                LEDGER.aws.append(call)
        return answer

    setattr(BaseClient, "_make_api_call", make_api_call)  # noqa: B010 - botocore's own name
    try:
        yield
    finally:
        setattr(BaseClient, "_make_api_call", original)  # noqa: B010


@contextmanager
def counting_provider_sends() -> Iterator[None]:
    """Count the sends the running invocation hands to the provider (the sandbox)."""
    from tether.providers.sandbox import SandboxProvider

    original = SandboxProvider.send

    def send(self: Any, command: Any) -> Any:
        if LEDGER.running is not None:
            LEDGER.running.provider_calls += 1
        return original(self, command)

    SandboxProvider.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        SandboxProvider.send = original  # type: ignore[method-assign]


@contextmanager
def measuring_handlers(counts: Mapping[str, int]) -> Iterator[None]:
    """Every handler the local stack imports comes back wrapped by `measured`."""
    from tether_dev.local.runtime import FunctionRunner

    original = FunctionRunner.handler
    wrapped: dict[str, Callable[[Any, Any], Any]] = {}

    def handler(self: Any, function: Any) -> Callable[[Any, Any], Any]:
        inner = original(self, function)
        if function.logical_id not in wrapped:
            wrapped[function.logical_id] = measured(function.name, inner, counts)
        return wrapped[function.logical_id]

    FunctionRunner.handler = handler  # type: ignore[method-assign]
    try:
        yield
    finally:
        FunctionRunner.handler = original  # type: ignore[method-assign]


@contextmanager
def stdout_to_file() -> Iterator[Callable[[], int]]:
    """The functions' log lines (this process's stdout, at the file-descriptor level:
    the logger holds its own handle) into a scratch file, still written and so still
    paid for; yields how many bytes so far (what CloudWatch Logs would ingest)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.NamedTemporaryFile(prefix="tether-bench-cost-", suffix=".log") as log:
        os.dup2(log.fileno(), 1)

        def written() -> int:
            sys.stdout.flush()
            return os.fstat(1).st_size

        try:
            yield written
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


# -- the database server's CPU --------------------------------------------------------


def postgres_cpu_seconds(postmaster: int) -> float:
    """CPU time (user + system) of the PostgreSQL server: the postmaster and every process
    it started, from /proc. Read at a phase's start and end, the difference is the
    server's work for the phase."""
    return procs.family_cpu_seconds(postmaster)


def postmaster_of(admin: psycopg.Connection[Any]) -> int:
    """The server's postmaster: the parent of this connection's backend."""
    row = admin.cursor().execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    parent = procs.parent_of(int(row[0]))
    assert parent is not None, "the database server does not run on this machine"
    return parent


# -- the run -------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    name: str
    messages: int
    started: float
    ended: float
    load: tuple[float, float]  # 1-minute load average at its start and its end
    db_cpu_s: float  # the database server's CPU time over the phase
    log_bytes: int  # what the functions logged over the phase


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise RuntimeError(f"waited {WAIT_SECONDS:.0f}s for {what}")


def settled(sqs: Any, urls: list[str], done: Callable[[], bool]) -> Callable[[], bool]:
    """True once `done` holds, every queue is empty (nothing visible, in flight or
    delayed) and no invocation has run for a second: three times in a row."""
    calm = [0]

    def check() -> bool:
        quiet = done() and not LEDGER.busy()
        if quiet and LEDGER.invocations:
            quiet = time.monotonic() - LEDGER.invocations[-1].started > 1.0
        for url in urls if quiet else []:
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            quiet = quiet and not any(int(v) for v in attributes.values())
        calm[0] = calm[0] + 1 if quiet else 0
        return calm[0] >= 3

    return check


def count(admin: psycopg.Connection[Any], query: str, *params: Any) -> int:
    """A count, read through a cursor (Connection.execute is what the counters count)."""
    row = admin.cursor().execute(query, params).fetchone()
    return 0 if row is None else int(row[0])


def run(
    leads: int, log_level: str, logged: Callable[[], int]
) -> tuple[list[Phase], dict[str, int]]:
    from tether.config import DatabaseSettings
    from tether_dev.local.aws import client
    from tether_dev.local.client import LocalStack
    from tether_dev.local.stack import DevOptions, start_stack
    from tether_dev.scratch import scratch_database

    phases: list[Phase] = []
    with scratch_database(DATABASE) as database_url, tempfile.TemporaryDirectory() as data_dir:
        os.environ["DATABASE_URL"] = database_url
        os.environ["TETHER_DATA_DIR"] = data_dir  # the stack's dev.json, not the checkout's
        options = DevOptions(
            gateway_port=0,
            sandbox_port=0,
            moto_port=0,
            lambda_port=0,
            websocket_port=0,
            websocket_management_port=0,
            sandbox_callback_delay_seconds=0.05,
            log_level="ERROR",
            functions_log_level=log_level,
        )
        running = start_stack(options, DatabaseSettings())
        try:
            stack = LocalStack(running.state())
            memory = {f.name: f.memory_size for f in running.stack.functions}
            sqs = client("sqs", running.moto.url)
            urls = [running.state()["queues"][q] for q in QUEUES]
            with psycopg.connect(database_url, autocommit=True) as admin:
                campaign, api = prepare(stack, leads)
                mark = settled(sqs, urls, lambda: True)
                wait_for(mark, "the set-up to settle")

                postmaster = postmaster_of(admin)

                def phase(
                    name: str, messages: int, work: Callable[[], object], done: Callable[[], bool]
                ) -> None:
                    """Run `work`, wait until `done` and every queue has settled."""
                    started, load, db_cpu, log_bytes = (
                        time.monotonic(),
                        os.getloadavg()[0],
                        postgres_cpu_seconds(postmaster),
                        logged(),
                    )
                    work()
                    wait_for(settled(sqs, urls, done), f"the {name} phase to settle")
                    phases.append(
                        Phase(
                            name,
                            messages,
                            started,
                            time.monotonic(),
                            (load, os.getloadavg()[0]),
                            postgres_cpu_seconds(postmaster) - db_cpu,
                            logged() - log_bytes,
                        )
                    )

                def delivered(expected: int) -> Callable[[], bool]:
                    return lambda: (
                        count(
                            admin,
                            "SELECT count(*) FROM messages WHERE direction = 'outbound'"
                            " AND status = 'delivered'",
                        )
                        >= expected
                    )

                phase(
                    "launch",
                    leads,
                    lambda: api("POST", f"/v1/campaigns/{campaign}/launch", expect=(202,)),
                    delivered(leads),
                )
                lead_ids = [
                    str(row[0])
                    for row in admin.cursor().execute(
                        "SELECT id FROM leads WHERE campaign_id = %s ORDER BY phone", (campaign,)
                    )
                ]

                def send_each() -> None:
                    for lead in lead_ids:
                        body = {"campaign_id": campaign, "lead_id": lead, "body": CHECK_IN}
                        api("POST", "/v1/messages", body, expect=(202,))

                phase("api", len(lead_ids), send_each, delivered(2 * leads))
                pairs = (
                    admin.cursor()
                    .execute(
                        "SELECT l.phone, b.phone_number FROM leads l"
                        " JOIN lead_sender_bindings b ON b.lead_id = l.id WHERE l.campaign_id = %s"
                        " ORDER BY l.phone",
                        (campaign,),
                    )
                    .fetchall()
                )

                def reply_each() -> None:
                    for n, (phone, number) in enumerate(pairs):
                        text = REPLIES[n % len(REPLIES)].format(n=n)
                        stack.reply(lead=phone, to=number, text=text)

                def replies_applied() -> bool:
                    inbound = "SELECT count(*) FROM messages WHERE direction = 'inbound'"
                    return count(admin, inbound) >= len(pairs)

                phase("received", len(pairs), reply_each, replies_applied)
        finally:
            running.stop()
    return phases, memory


def prepare(stack: Any, leads: int) -> tuple[str, Any]:
    """A tenant as bench/events.py sets one up (sandbox account, pool, staged campaign,
    leads), not yet launched: its campaign and its API."""
    from bench.events import staged_campaign

    _, api, campaign = staged_campaign(stack, "bench cost", POOL, NUMBERS, len(NUMBERS) - 1, leads)
    return campaign, api


# -- the figures ---------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def phase_figures(phase: Phase, memory: Mapping[str, int]) -> dict[str, Any]:
    """Per function (medians per invocation) and per message (totals over messages)."""

    def inside(at: float) -> bool:
        return phase.started <= at <= phase.ended

    invocations = [i for i in LEDGER.invocations if inside(i.started)]
    calls = [c for c in LEDGER.aws if inside(c.at)]
    counted = [i for i in invocations if i.function not in BACKGROUND]
    names = sorted(
        {i.function for i in counted},
        key=lambda n: min(i.started for i in counted if i.function == n),
    )
    functions: dict[str, dict[str, float]] = {}
    uses: list[model.FunctionUse] = []
    for name in names:
        mine = [i for i in counted if i.function == name]
        figures = {
            "invocations": len(mine),
            "invocations_per_message": round(len(mine) / phase.messages, 3),
            "records_per_invocation": round(sum(i.records for i in mine) / len(mine), 2),
            "wall_ms": round(median([i.wall_ms for i in mine]), 2),
            "cpu_ms": round(median([i.cpu_ms for i in mine]), 2),
            "process_cpu_ms": round(median([i.process_cpu_ms for i in mine]), 2),
            "db_statements": median([i.db_statements for i in mine]),
            "db_round_trips": median([i.db_round_trips for i in mine]),
            "db_ms": round(median([i.db_ms for i in mine]), 2),
            "provider_calls": median([i.provider_calls for i in mine]),
            "memory_mb": memory[name],
        }
        function_use = model.FunctionUse(
            name,
            len(mine) / phase.messages,
            figures["wall_ms"],
            figures["db_round_trips"],
            figures["provider_calls"],
        )
        figures["modelled_ms"] = round(
            model.modelled_duration_ms(
                function_use.wall_ms, function_use.db_round_trips, function_use.provider_calls
            ),
            2,
        )
        functions[name] = figures
        uses.append(function_use)
    billed = [
        c for c in calls if not c.empty_receive and c.owner.removeprefix("esm:") not in BACKGROUND
    ]

    def units(service: str, operations: tuple[str, ...] = ()) -> float:
        return sum(
            c.units
            for c in billed
            if c.service == service and (not operations or c.operation in operations)
        )

    sqs_by_call: dict[str, float] = {}
    for c in billed:
        if c.service == "sqs":
            key = f"{c.owner} {c.operation}"
            sqs_by_call[key] = sqs_by_call.get(key, 0) + c.units / phase.messages
    use = model.MessageUse(
        functions=uses,
        db_cpu_ms=phase.db_cpu_s * 1000 / phase.messages,
        sqs_requests=units("sqs") / phase.messages,
        dynamodb_wru=units("dynamodb", ("PutItem", "UpdateItem", "DeleteItem")) / phase.messages,
        dynamodb_rru=units("dynamodb", ("GetItem", "Query")) / phase.messages,
        eventbridge_events=units("events", ("PutEvents",)) / phase.messages,
        api_gateway_requests=sum(1 for i in counted if i.function in SYNC_API) / phase.messages,
        secrets_manager_calls=units("secretsmanager") / phase.messages,
        log_bytes=phase.log_bytes / phase.messages,
    )
    cost = model.cost_per_million(use, memory)
    return {
        "messages": phase.messages,
        "seconds": round(phase.ended - phase.started, 1),
        "load_1m": [round(x, 2) for x in phase.load],
        "functions": functions,
        "per_message": {
            "invocations": round(sum(u.invocations_per_message for u in uses), 3),
            "cpu_ms": round(
                sum(f["cpu_ms"] * f["invocations_per_message"] for f in functions.values()), 2
            ),
            "wall_ms": round(
                sum(f["wall_ms"] * f["invocations_per_message"] for f in functions.values()), 2
            ),
            "modelled_ms": round(
                sum(f["modelled_ms"] * f["invocations_per_message"] for f in functions.values()), 2
            ),
            "db_round_trips": round(sum(i.db_round_trips for i in counted) / phase.messages, 2),
            "db_statements": round(sum(i.db_statements for i in counted) / phase.messages, 2),
            "db_busy_ms": round(sum(i.db_ms for i in counted) / phase.messages, 2),
            "db_server_cpu_ms": round(use.db_cpu_ms, 2),
            "sqs_requests": round(use.sqs_requests, 3),
            "sqs_by_call": {k: round(v, 3) for k, v in sorted(sqs_by_call.items())},
            "dynamodb_wru": round(use.dynamodb_wru, 3),
            "dynamodb_rru": round(use.dynamodb_rru, 3),
            "eventbridge_events": round(use.eventbridge_events, 3),
            "eventbridge_put_events_calls": round(
                sum(1 for c in billed if c.operation == "PutEvents") / phase.messages, 3
            ),
            "api_gateway_requests": round(use.api_gateway_requests, 3),
            "secrets_manager_calls": round(use.secrets_manager_calls, 3),
            "log_bytes": round(use.log_bytes),
        },
        "cost_per_million": {line.item: round(line.dollars_per_million, 2) for line in cost.lines}
        | {"total": round(cost.total, 2)},
        "at_100m_a_day": {
            name: {
                "average": round(
                    model.concurrency(
                        model.per_second(model.MESSAGES_PER_DAY_AT_SCALE)
                        * f["invocations_per_message"],
                        f["modelled_ms"],
                    ),
                    1,
                ),
                "peak": round(
                    model.concurrency(
                        model.per_second(model.MESSAGES_PER_DAY_AT_SCALE)
                        * model.PEAK_TO_AVERAGE
                        * f["invocations_per_message"],
                        f["modelled_ms"],
                    ),
                    1,
                ),
            }
            for name, f in functions.items()
        },
        "peak_concurrency_at_100m_a_day": round(
            sum(
                model.concurrency(
                    model.per_second(model.MESSAGES_PER_DAY_AT_SCALE)
                    * model.PEAK_TO_AVERAGE
                    * f["invocations_per_message"],
                    f["modelled_ms"],
                )
                for f in functions.values()
            ),
            1,
        ),
        "_cost_lines": cost.lines,
    }


def background(phases: list[Phase]) -> dict[str, int]:
    start, end = phases[0].started, phases[-1].ended
    found: dict[str, int] = {}
    for i in LEDGER.invocations:
        if i.function in BACKGROUND and start <= i.started <= end:
            found[i.function] = found.get(i.function, 0) + 1
    return found


def report(phases: list[Phase], memory: Mapping[str, int], log_level: str) -> dict[str, Any]:
    results = {phase.name: phase_figures(phase, memory) for phase in phases}
    for name, result in results.items():
        print(
            f"\n{name}: {result['messages']} messages in {result['seconds']} s,"
            f" load average (1 min) {result['load_1m'][0]} → {result['load_1m'][1]}"
        )
        print(
            f"  {'function':<15}{'inv/msg':>8}{'rec/inv':>8}{'wall ms':>9}{'cpu ms':>8}"
            f"{'proc cpu':>9}{'stmts':>6}{'rtrips':>7}{'db ms':>7}{'prov':>5}{'MB':>6}{'model ms':>9}"
        )
        for function, f in result["functions"].items():
            print(
                f"  {function:<15}{f['invocations_per_message']:>8.3f}{f['records_per_invocation']:>8.2f}"
                f"{f['wall_ms']:>9.2f}{f['cpu_ms']:>8.2f}{f['process_cpu_ms']:>9.2f}"
                f"{f['db_statements']:>6g}{f['db_round_trips']:>7g}{f['db_ms']:>7.2f}"
                f"{f['provider_calls']:>5g}{f['memory_mb']:>6}{f['modelled_ms']:>9.2f}"
            )
        per = result["per_message"]
        print(
            f"  per message: {per['invocations']} invocations, {per['cpu_ms']} ms CPU,"
            f" {per['wall_ms']} ms wall locally, {per['modelled_ms']} ms modelled;"
            f" {per['db_statements']} statements in {per['db_round_trips']} round trips,"
            f" {per['db_busy_ms']} ms waiting on them,"
            f" {per['db_server_cpu_ms']} ms of the database server's CPU"
        )
        print(
            f"  per message: {per['sqs_requests']} SQS requests, {per['dynamodb_wru']} WRU,"
            f" {per['dynamodb_rru']} RRU, {per['eventbridge_events']} EventBridge events in"
            f" {per['eventbridge_put_events_calls']} PutEvents,"
            f" {per['api_gateway_requests']} API Gateway requests,"
            f" {per['secrets_manager_calls']} Secrets Manager calls,"
            f" {per['log_bytes']} bytes of log lines"
        )
        print(
            "  SQS requests per message: "
            + ", ".join(f"{k} {v}" for k, v in per["sqs_by_call"].items())
        )
        print("  $ per million messages:")
        for line in result.pop("_cost_lines"):
            print(f"    {line.item:<22}{line.dollars_per_million:>9.2f}  {line.detail}")
        print(f"    {'total':<22}{result['cost_per_million']['total']:>9.2f}")
        print(
            f"  concurrency (= database connections) at 100 million a day"
            f" ({model.per_second(model.MESSAGES_PER_DAY_AT_SCALE):.0f}/s, peak"
            f" x{model.PEAK_TO_AVERAGE:g}), average / peak, {result['peak_concurrency_at_100m_a_day']}"
            " at peak in all: "
            + ", ".join(
                f"{k} {v['average']:g}/{v['peak']:g}" for k, v in result["at_100m_a_day"].items()
            )
        )
    quiet = background(phases)
    print(
        "\nscheduled functions during the run (not per message): "
        + (", ".join(f"{k} {v}" for k, v in sorted(quiet.items())) or "none")
    )
    return {
        **results,
        "scheduled_invocations": quiet,
        "assumptions": {
            "db_round_trip_ms": model.DB_ROUND_TRIP_MS,
            "provider_api_ms": model.PROVIDER_API_MS,
            "vcpu_per_acu": model.VCPU_PER_ACU,
            "aurora_utilisation": model.AURORA_TARGET_UTILISATION,
            "peak_to_average": model.PEAK_TO_AVERAGE,
        },
        "functions_log_level": log_level,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100)
    parser.add_argument(
        "--functions-log-level",
        default="INFO",
        help="the functions' log level; INFO, the template's LogLevel, by default (their"
        " lines go to a scratch file, counted for CloudWatch Logs, never to the terminal)",
    )
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    logging.getLogger("tether_local").setLevel(logging.ERROR)  # the stack's own lines
    with (
        counting_round_trips() as counts,
        timing_database(),
        counting_aws_requests(),
        counting_provider_sends(),
        measuring_handlers(counts),
    ):
        with stdout_to_file() as logged:  # the functions' log lines are not figures
            phases, memory = run(args.leads, args.functions_log_level, logged)
        figures = report(phases, memory, args.functions_log_level)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
