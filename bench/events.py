"""Events on the local stack: a reply's bell over the WebSocket, and the events' rate
from the outbox to a customer's webhook receiver.

Starts the local stack as a user runs it (`python -m tether_dev dev` in a process of its
own, moto inside it, on free ports, against a scratch database), and sets a tenant up
over HTTP as the demo does: the sandbox as its provider account, a pool of numbers, a
campaign in the `initial_message` stage whose leads have had their first text. Then the
tenant's systems listen: a webhook subscription to every event type (an EventReceiver,
each delivery verified with `standardwebhooks`, deduped on webhook-id) and a WebSocket
subscribed to every stage's bell. The bench sends N replies through the sandbox's reply
path, paced, each with a body of its own.

- push latency: from the moment the bench asks the sandbox for a reply (the sandbox
  posts it to the webhook at once and answers after the gateway does) to the bell frame
  that carries that reply's event (matched by its body) on the WebSocket: p50 and p99.
- events/s: the events the tenant's outbox recorded from the first reply on, over the
  seconds from the first reply to the last of them at the receiver (all must arrive).

It prints the load average (the machine is shared) with the figures; the last line is
one JSON object.

The rate is 5 replies a second by default: the local stack runs one invocation at a
time (one process, as one Lambda container) and each reply takes about six (the reply's
webhook, the inbound function, the auto-reply's send, its status callbacks through the
webhook and inbound functions, deliver_events), so near 5 a second it is saturated and
a faster pace measures the queue in front of that lock, not the push (at 20 asked, the
sandbox's answers pace it to about 5, and p99 is seconds).

    make bench-events [ARGS="--replies 200 --rate 5 --leads 20"]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tether.config import PROJECT_ROOT
from tether.db.connection import connect
from tether.domain.outbox import EventType
from tether_dev.local.client import LocalStack
from tether_dev.local.demo import DemoApi, create_tenant
from tether_dev.local.listeners import STAGES, EventReceiver
from tether_dev.scratch import scratch_database

DATABASE = "tether_bench_events"
POOL = "Bench Pool"
NUMBERS = [f"+1415555{n:04d}" for n in range(300, 305)]
START_SECONDS = 90.0


class TimedReceiver(EventReceiver):
    """The demo's receiver, noting when each webhook-id first arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        status = super()._take(body, headers)
        if status < 300:
            with self._lock:
                self.arrived.setdefault(headers["webhook-id"], time.perf_counter())
        return status

    def arrivals(self) -> dict[str, float]:
        """Each event id's first arrival."""
        with self._lock:
            return {str(self.events[w]["id"]): at for w, at in self.arrived.items()}

    def replies(self) -> dict[str, float]:
        """Each reply.received event's first arrival, by the reply's body."""
        with self._lock:
            return {
                str(self.events[w]["data"]["body"]): at
                for w, at in self.arrived.items()
                if self.events[w]["type"] == EventType.REPLY_RECEIVED
            }


class Bells:
    """A raw WebSocket client on the tenant's bell (every stage): each bell frame's
    arrival, by its reply's body."""

    def __init__(self, url: str, api_key: str) -> None:
        self.at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._open = contextlib.ExitStack()  # websockets wants its socket in a context
        self._socket = self._open.enter_context(
            ws_connect(f"{url}?api_key={api_key}", open_timeout=10)
        )
        self._socket.send(json.dumps({"action": "subscribe", "stages": list(STAGES)}))
        answer = json.loads(self._socket.recv(timeout=10))
        if answer.get("type") != "subscribed":
            raise RuntimeError(f"WebSocket subscribe: {answer}")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._socket:
                arrived = time.perf_counter()
                frame = json.loads(raw)
                if frame.get("type") == "bell":
                    with self._lock:
                        self.at.setdefault(str(frame["event"]["data"]["body"]), arrived)
        except ConnectionClosed:
            pass

    def arrivals(self) -> dict[str, float]:
        with self._lock:
            return dict(self.at)

    def close(self) -> None:
        self._open.close()
        self._thread.join(timeout=5)


def start_stack(database_url: str, data_dir: Path, log_path: Path) -> subprocess.Popen[str]:
    """`python -m tether_dev dev` on free ports (as tests/e2e/conftest.py runs it)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TETHER_DATA_DIR": str(data_dir),
        "POWERTOOLS_LOG_LEVEL": os.environ.get("BENCH_STACK_LOG_LEVEL", "WARNING"),
    }
    ports = ["--port", "--sandbox-port", "--moto-port", "--lambda-port", "--websocket-port"]
    ports += ["--websocket-management-port"]
    with log_path.open("w") as log:
        return subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-m", "tether_dev", "dev"]
            + [arg for port in ports for arg in (port, "0")]
            + ["--sandbox-callback-delay", "0.2"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


@contextlib.contextmanager
def local_stack(database_url: str, data_dir: Path) -> Iterator[LocalStack]:
    """The local stack serving (start_stack), stopped when the block ends. Its output
    goes to `data_dir`/dev.log, not the terminal (a bench prints its figures only):
    when the block fails, the log's path and last lines go to stderr."""
    log_path = data_dir / "dev.log"
    process = start_stack(database_url, data_dir, log_path)
    try:
        try:
            yield wait_until_serving(process, data_dir / "dev.json")
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    except Exception:
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        print(f"the local stack's log ({log_path}), last lines:", *tail, sep="\n", file=sys.stderr)
        raise


def wait_until_serving(process: subprocess.Popen[str], state_file: Path) -> LocalStack:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited ({process.returncode})")
        if state_file.exists():
            stack = LocalStack(json.loads(state_file.read_text()))
            try:
                if stack.call("GET", "/v1/health").status == 200:
                    return stack
            except Exception:  # noqa: S110 - not serving yet
                pass
        time.sleep(0.2)
    raise RuntimeError(f"the local stack was not serving after {START_SECONDS:.0f}s")


def wait(check: Any, what: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise RuntimeError(f"waited {seconds:.0f}s for {what}")


def staged_campaign(
    stack: LocalStack, name: str, pool: str, numbers: list[str], rotation: int, leads: int
) -> tuple[str, DemoApi, str]:
    """A tenant named `name` with the sandbox as its provider, `numbers` in `pool`, no
    quiet hours or pacing, and a campaign staged on `rotation` of the numbers with
    `leads` leads, not yet launched: the tenant's id, its API and the campaign's id."""
    tenant_id, key = create_tenant(stack, name)
    api = DemoApi(stack, key)
    api("PATCH", "/v1/settings", {"quiet_hours_start": "00:00", "quiet_hours_end": "23:59:59",
                                   "quiet_hours_wider_attested": True,
                                   "send_segments_per_second": None,
                                   "brand_name": "Bench", "help_contact": "help@bench.example"})  # fmt: skip
    account = api("POST", "/v1/provider-accounts", {
        "provider": "sandbox", "name": "Sandbox",
        "signing_secret": str(stack.state["sandbox_signing_secret"])})["id"]  # fmt: skip
    api("PUT", f"/v1/provider-accounts/{account}/secrets", {"credentials": {
        "account_id": account, "api_token": str(stack.state["sandbox_api_token"]),
        "base_url": stack.sandbox_url}})  # fmt: skip
    api("POST", "/v1/phone-numbers", {"provider_account_id": account, "pool": pool,
                                      "numbers": [{"number": n} for n in numbers]})  # fmt: skip
    campaign = api("POST", "/v1/campaigns", {
        "name": name, "workspace_stage": "initial_message", "ai_worker": "gianna",
        "pool": pool, "template": "Hi {first_name|there}, still thinking of selling?"})["id"]  # fmt: skip
    api("POST", f"/v1/campaigns/{campaign}/stage", {"rotation_numbers": rotation})
    phones = [f"+1212555{n:04d}" for n in range(1000, 1000 + leads)]
    api("POST", f"/v1/campaigns/{campaign}/leads",
        {"leads": [{"phone": p, "first_name": "Lead"} for p in phones]})  # fmt: skip
    return tenant_id, api, str(campaign)


def prepare(stack: LocalStack, leads: int) -> tuple[str, DemoApi, list[tuple[str, str]]]:
    """A tenant whose campaign's leads have had their first text: its id, its API, and
    each lead's (phone, the number bound to it)."""
    tenant_id, api, campaign = staged_campaign(stack, "bench events", POOL, NUMBERS, 1, leads)
    launch = api("POST", f"/v1/campaigns/{campaign}/launch", expect=(202,))
    path = f"/v1/campaigns/{campaign}/launches/{launch['id']}"
    wait(lambda: api("GET", path)["status"] == "complete", "the launch", 120)
    items = api("GET", f"/v1/leads?campaign_id={campaign}&limit=100")["items"]

    def bound() -> list[tuple[str, str]] | None:
        pairs = []
        for lead in items:
            trace = api("GET", f"/v1/leads/{lead['id']}/trace")
            outbound = [m for m in trace["messages"] if m["direction"] == "outbound"]
            if not outbound or any(m["status"] != "delivered" for m in outbound):
                return None
            pairs.append((lead["phone"], trace["bindings"][0]["phone_number"]))
        return pairs

    return tenant_id, api, wait(bound, "every first text delivered", 120)


def outbox_mark(database_url: str, tenant_id: str) -> int:
    with connect(database_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT coalesce(max(seq), 0) AS seq FROM outbox_events WHERE tenant_id = %s",
            (tenant_id,),
        ).fetchone()
    assert row is not None
    return int(row["seq"])


def recorded_since(database_url: str, tenant_id: str, seq: int) -> set[str]:
    with connect(database_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT id FROM outbox_events WHERE tenant_id = %s AND seq > %s", (tenant_id, seq)
        ).fetchall()
    return {str(row["id"]) for row in rows}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def run(
    database_url: str, replies: int, rate: float, leads: int, *, keep: bool = False
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="tether-bench-events-"))
    with local_stack(database_url, data_dir) as stack:
        tenant_id, api, pairs = prepare(stack, leads)
        with TimedReceiver() as receiver:
            created = api("POST", "/v1/event-subscriptions", {
                "url": receiver.url, "event_types": [t.value for t in EventType]})  # fmt: skip
            receiver.secret = created["secret"]
            bells = Bells(str(stack.state["websocket_url"]), api.key)
            try:
                mark = outbox_mark(database_url, tenant_id)
                load_before = os.getloadavg()
                asked: dict[str, float] = {}
                answered: dict[str, float] = {}
                started = time.perf_counter()
                for n in range(replies):
                    # paced: reply n is due n/rate seconds after the first
                    time.sleep(max(0.0, started + n / rate - time.perf_counter()))
                    phone, number = pairs[n % len(pairs)]
                    body = f"bench reply {n}: thanks for the note"
                    asked[body] = time.perf_counter()
                    stack.reply(lead=phone, to=number, text=body)
                    answered[body] = time.perf_counter()  # the gateway has stored it
                sent_for = time.perf_counter() - started
                wait(lambda: len(bells.arrivals()) >= replies, "every reply's bell", 120)

                def all_received() -> set[str] | None:
                    recorded = recorded_since(database_url, tenant_id, mark)
                    return recorded if recorded <= set(receiver.arrivals()) else None

                recorded = wait(all_received, "every recorded event at the receiver", 180)
                load_after = os.getloadavg()
            finally:
                bells.close()
            arrivals = receiver.arrivals()
            hooked = receiver.replies()
            rang = bells.arrivals()
            deliveries, forged = receiver.deliveries, receiver.refused
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)  # kept (its dev.log) when the run failed
    latencies = [(rang[body] - at) * 1000 for body, at in asked.items()]
    # where the time goes: the reply's event at the webhook receiver, and the bell's
    # lead (negative) or lag behind it
    to_webhook = [(hooked[body] - at) * 1000 for body, at in asked.items()]
    bell_after_webhook = [(rang[body] - hooked[body]) * 1000 for body in asked]
    # the sandbox answers once the gateway has (the webhook function stored the reply)
    stored = [(answered[body] - at) * 1000 for body, at in asked.items()]
    after_stored = [(rang[body] - answered[body]) * 1000 for body in asked]
    last = max(arrivals[event_id] for event_id in recorded)
    return {
        "replies": replies,
        "rate_per_s": rate,
        "sent_seconds": round(sent_for, 2),
        "bells": len(rang),
        "push_p50_ms": round(statistics.median(latencies), 1),
        "push_p99_ms": round(percentile(latencies, 99), 1),
        "push_max_ms": round(max(latencies), 1),
        "webhook_p50_ms": round(statistics.median(to_webhook), 1),
        "webhook_p99_ms": round(percentile(to_webhook, 99), 1),
        "bell_after_webhook_p50_ms": round(statistics.median(bell_after_webhook), 1),
        "reply_stored_p50_ms": round(statistics.median(stored), 1),
        "bell_after_stored_p50_ms": round(statistics.median(after_stored), 1),
        "bell_after_stored_p99_ms": round(percentile(after_stored, 99), 1),
        "events_recorded": len(recorded),
        "events_received": len(recorded & set(arrivals)),
        "webhook_deliveries": deliveries,
        "forged": forged,
        "events_per_s": round(len(recorded) / (last - started), 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="replies a second")
    parser.add_argument("--leads", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the stack's data dir")
    args = parser.parse_args()
    with scratch_database(DATABASE) as database_url:
        result = run(database_url, args.replies, args.rate, args.leads, keep=args.keep)
    print(
        f"{result['replies']} replies at {result['rate_per_s']:g}/s: bell pushed p50"
        f" {result['push_p50_ms']} ms, p99 {result['push_p99_ms']} ms (max"
        f" {result['push_max_ms']} ms); {result['events_received']}/{result['events_recorded']}"
        f" events at the receiver, {result['events_per_s']} events/s; load average"
        f" {result['load_before']} → {result['load_after']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
