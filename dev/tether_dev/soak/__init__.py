"""`make soak` (`python -m tether_dev soak`): the whole system under many faults at once.

The local stack runs as four processes (PostgreSQL, moto, the sandbox, the functions:
tether_dev.soak.processes); two tenants live through a day (tether_dev.soak.drive)
while faults land at moments drawn from the seed; then the stack is left to settle and
the end state is checked (tether_dev.soak.checks). The last line printed is JSON:
`faults_<kind>` counts, `messages`, `lost`, `doubled`, `stuck`, `seconds` and the
other checks' counts (each `*_violations` must be 0 too)."""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3

from tether_dev.local.faults import FAULT_LOG_LINE
from tether_dev.soak.checks import as_line, check_all
from tether_dev.soak.drive import Day, Plan, scheduled
from tether_dev.soak.processes import Faults, SoakProcesses

FULL = Plan(leads=5000, numbers_per_tenant=20, kills=4, database_restarts=2,
            drive_seconds=300, quiesce_seconds=540, intermediate_statuses="")  # fmt: skip
SHORT = Plan(leads=40, numbers_per_tenant=9, kills=1, database_restarts=1,
             drive_seconds=25, quiesce_seconds=120, replies_per_tick=2,
             duplicate_webhooks=10, late_statuses=15, leases=4,
             provider_timeout_rate=0.006)  # fmt: skip
MUST_BE_ZERO = ("lost", "doubled", "stuck", "opt_out_violations", "webhook_violations",
                "timer_violations", "lease_violations", "event_violations",
                "dead_letter_violations", "functions_crashes")  # fmt: skip


def run_soak(
    seed: int, plan: Plan, say: Callable[[str], None] = print, keep: bool = False
) -> dict[str, Any]:
    started = time.monotonic()
    work_dir = Path(tempfile.mkdtemp(prefix=f"tether-soak-{seed}-"))
    processes = SoakProcesses(
        work_dir,
        Faults(
            seed,
            provider_timeout_rate=plan.provider_timeout_rate,
            intermediate_statuses=plan.intermediate_statuses,
        ),
        concurrency=plan.concurrency,
    )
    day = Day(processes, plan, random.Random(seed), say)  # noqa: S311 - a simulation
    try:
        processes.start()
        say(f"soak {seed}: stack up in {time.monotonic() - started:.1f}s ({work_dir})")
        day.set_up()
        day.drive()
        day.end_of_day()
        say(f"drive done (+{time.monotonic() - started:.0f}s); settling")
        settled = settle(day)
        texts = day._sandbox_texts()  # the sandbox outlives the functions
        state = processes.state()
        result: dict[str, Any] = {f"faults_{k}": v for k, v in sorted(day.faults.items())}
        result.update(fault_counts(processes))
        receivers = {t.subscription: t.receiver.event_ids() for t in day.tenants}
        result.update(
            check_all(
                processes.database_url,
                texts,
                day.timer_clock,
                receivers,
                processes.moto_url,
                dict(state["queues"]),
            )
        )
        # not settled: what is still on its way counts as lost or stuck; the run fails
        result["settled"] = settled
        result["seed"] = seed
        result["seconds"] = round(time.monotonic() - started, 1)
        return result
    finally:
        for tenant in day.tenants:
            tenant.receiver.__exit__(None, None, None)
        processes.stop()
        if not keep:
            shutil.rmtree(work_dir, ignore_errors=True)


def settle(day: Day) -> bool:
    """No more faults: the functions up, the sweeper and the timers (at the day's last
    clock) run until nothing is queued, in flight, or waiting in the database."""
    processes = day.processes
    processes.stop_functions()  # and again without the SQS faults
    processes.start_functions(faults=False)
    deadline = time.monotonic() + day.plan.quiesce_seconds
    said = time.monotonic()
    rounds = 0
    while time.monotonic() < deadline:
        if processes.revive_functions():
            day.say(f"the functions exited on their own; started again (+{day.elapsed():.0f}s)")
        try:
            if rounds % 3 == 0:
                day.stack.invoke("sweeper", scheduled(datetime.now(UTC)))
            if day.timer_clock is not None and rounds % 10 == 0:
                day.stack.invoke("timers", scheduled(day.timer_clock))
        except (RuntimeError, urllib3.exceptions.HTTPError) as error:
            day.say(f"settling: {error}")
        left = unsettled(day)
        if not left:
            # and still so a little later: a provider's late callback may be on its way
            time.sleep(5)
            left = unsettled(day)
        if not left and day.timer_clock is not None:
            # the timers once more at the day's last clock: sends settled since may have
            # made timers already due by it (a first touch's 7-, 14- and 30-day timers)
            fired = day.stack.invoke("timers", scheduled(day.timer_clock))
            if fired.get("fired") or fired.get("sends"):
                left = {"timers_fired": int(fired.get("fired", 0))}
        if not left:
            processes.stop_functions()  # what the checks read no longer moves
            day.say(f"settled (+{day.elapsed():.0f}s)")
            return True
        if time.monotonic() - said > 15:
            day.say(f"settling (+{day.elapsed():.0f}s): {left}")
            said = time.monotonic()
        rounds += 1
        time.sleep(3)
    left = unsettled(day)
    processes.stop_functions()
    day.say(f"not settled by the deadline; checking as it stands: {left}")
    return False


def unsettled(day: Day) -> dict[str, int]:
    """What is still queued, in flight or waiting, by where."""
    import psycopg

    from tether_dev.local.aws import client

    left: dict[str, int] = {}
    sqs = client("sqs", day.processes.moto_url)
    for name, url in day.processes.state()["queues"].items():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        count = sum(
            int(attributes.get(key, 0))
            for key in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )
        if count and name in day.processes.consumed:
            left[name] = count
    with psycopg.connect(day.processes.database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM messages WHERE direction = 'outbound'"
            "        AND status IN ('pending', 'queued', 'sending')"
            "        AND (not_before IS NULL OR not_before <= now())),"
            " (SELECT count(*) FROM webhook_receipts WHERE processed_at IS NULL),"
            " (SELECT count(*) FROM outbox_events WHERE relayed_at IS NULL),"
            " (SELECT count(*) FROM event_deliveries WHERE status = 'pending'),"
            " (SELECT count(*) FROM webhook_receipts WHERE received_at > now() - interval '8s')"
        ).fetchone()
    names = ("sends", "receipts", "events", "deliveries", "webhooks_arriving")
    for key, value in zip(names, row or (), strict=False):
        if value:
            left[key] = int(value)
    return left


def fault_counts(processes: SoakProcesses) -> dict[str, int]:
    """The faults the other processes injected, from their own logs."""
    functions = _read(processes.functions_log)
    sandbox = _read(processes.work_dir / "sandbox.log")
    return {
        "faults_sqs_send": functions.count(FAULT_LOG_LINE),
        "faults_provider_error": sandbox.count("sandbox answered a fault"),
        "faults_provider_timeout": sandbox.count("sandbox stalls its answer"),
        "faults_functions_starts": processes.functions_starts,
        "functions_crashes": processes.functions_crashes,
    }


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def main(seed: int | None, short: bool, keep: bool, leads: int | None = None) -> int:
    seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
    plan = SHORT if short else FULL
    if leads is not None:
        plan = replace(plan, leads=leads)
    result = run_soak(seed, plan, keep=keep)
    failed = [name for name in MUST_BE_ZERO if result.get(name)]
    if not result["settled"]:
        failed.append("settled")
    if failed:
        print(f"soak {seed}: FAILED {failed}", file=sys.stderr, flush=True)
    print(as_line(result), flush=True)
    return 1 if failed else 0
