"""The local schedules: each rate fires its function with a scheduled event, first one
period after start; what is not a rate is skipped, never run at a made-up pace."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tether_dev.local.events import parse_rate
from tether_dev.local.pollers import Scheduler
from tether_dev.local.runtime import Invocation
from tether_dev.local.template import Function, Schedule


def function(name: str, *expressions: str) -> Function:
    return Function(
        logical_id=name,
        code_uri=f"functions/{name}",
        handler="app.handler",
        timeout=3,
        memory_size=128,
        environment={},
        schedules=[Schedule(f"{name}{i}", e) for i, e in enumerate(expressions)],
    )


class DrivenClock:
    """The scheduler's clock, moved only by its waits: each wait passes at once, and the
    run ends (`at_end`) once `run_for` has gone by."""

    def __init__(self, run_for: timedelta) -> None:
        self.start = self.current = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
        self.run_for = run_for
        self.at_end: Callable[[], None] = lambda: None

    def now(self) -> datetime:
        return self.current

    def wait(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        if self.current - self.start >= self.run_for:
            self.at_end()


def test_rates_fire_their_functions_in_proportion_and_cron_is_skipped() -> None:
    fired: list[tuple[str, str]] = []
    lock = threading.Lock()

    def invoke(fn: Function, event: Any, request_id: str) -> Invocation:
        with lock:
            fired.append((fn.logical_id, event["detail-type"]))
        return Invocation(fn.logical_id, None, None, 0.0, False)

    # a minute lasts 50 ms here, on a clock the test drives: 0.62 s of it, then stop
    clock = DrivenClock(run_for=timedelta(seconds=0.62))
    scheduler = Scheduler(
        [
            function("fast", "rate(1 minute)"),
            function("slow", "rate(5 minutes)", "cron(0 * * * ? *)"),
        ],
        invoke,
        period_of=lambda expression: parse_rate(expression) / 1200,
        clock=clock.now,
        wait=clock.wait,
    )
    clock.at_end = scheduler.stop
    assert [s.name for _, s, _ in scheduler.entries] == ["fast0", "slow0"]
    scheduler.start()
    scheduler.join(timeout=10)

    counts = {name: sum(1 for n, _ in fired if n == name) for name in ("fast", "slow")}
    # 12 and 2 on the driven clock (under load the wall clock gives fewer: missed runs are
    # not caught up)
    assert 5 <= counts["fast"] <= 13
    assert 1 <= counts["slow"] <= 3
    assert counts["fast"] >= 3 * counts["slow"]
    assert {kind for _, kind in fired} == {"Scheduled Event"}


def test_a_disabled_schedule_is_not_run() -> None:
    disabled = function("off")
    disabled.schedules.append(Schedule("off0", "rate(1 minute)", enabled=False))
    scheduler = Scheduler([disabled], lambda *_: Invocation("off", None, None, 0.0, False))
    assert scheduler.entries == []
