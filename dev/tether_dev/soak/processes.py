"""The soak's processes: PostgreSQL (an embedded server of the soak's own, so restarting
it touches no one else's database), moto (DynamoDB, SQS: `python -m tether_dev moto`),
the provider sandbox (`sandbox serve`) and the functions (`python -m tether_dev dev`
pointed at the other three). Only the functions' process is killed: what is queued
in moto and what the sandbox accepted outlive it, as in AWS."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import urllib3

from tether.config import PROJECT_ROOT
from tether.db.embedded import stop_embedded
from tether_dev.local.aws import claim_port
from tether_dev.local.stack import STATE_FILE_NAME, sandbox_webhook_url
from tether_dev.local.template import load_template, read_stack

HOST = "127.0.0.1"
DATABASE = "tether_soak"
START_TIMEOUT_SECONDS = 120.0


class SoakSetupError(Exception):
    pass


@dataclass(frozen=True)
class Faults:
    """The rates handed to the sandbox and the functions (the timed faults are the
    driver's)."""

    seed: int
    provider_failure_rate: float = 0.02
    provider_timeout_rate: float = 0.002
    provider_rate_limited_rate: float = 0.01
    provider_latency: float = 0.0
    provider_latency_jitter: float = 0.05
    undelivered_rate: float = 0.03
    sqs_send_failure_rate: float = 0.02
    stall_seconds: float = 12.0  # past the adapter's 10 s read timeout
    queue_visibility_seconds: int = 20
    intermediate_statuses: str = "queued,sent"  # the status callbacks before the last


def free_port() -> int:
    return claim_port(HOST, 0)


@dataclass
class SoakProcesses:
    work_dir: Path
    faults: Faults
    concurrency: int = 1  # the functions' containers (dev --concurrency)
    ports: dict[str, int] = field(default_factory=dict)
    database_url: str = ""
    functions_starts: int = 0
    functions_crashes: int = 0  # exits nobody asked for: each one is a finding
    consumed: set[str] = field(default_factory=set)  # queues a function reads (logical ids)
    _moto: subprocess.Popen[bytes] | None = None
    _sandbox: subprocess.Popen[bytes] | None = None
    _functions: subprocess.Popen[bytes] | None = None
    _logs: list[IO[str]] = field(default_factory=list)
    _state: dict[str, Any] = field(default_factory=dict)
    _faulty: bool = True

    # -- addresses ------------------------------------------------------------------

    @property
    def pg_dir(self) -> Path:
        return self.work_dir / "pg"

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.ports['gateway']}"

    @property
    def moto_url(self) -> str:
        return f"http://{HOST}:{self.ports['moto']}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{HOST}:{self.ports['sandbox']}"

    @property
    def functions_log(self) -> Path:
        return self.work_dir / "functions.log"

    def state(self) -> dict[str, Any]:
        """Where the stack listens (its dev.json, as the first start wrote it: every
        restart listens on the same ports)."""
        if not self._state:
            self._state = json.loads((self.work_dir / STATE_FILE_NAME).read_text())
        return self._state

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> SoakProcesses:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.start_database()
        # commit times, read back for the opt-out check (a server setting: a restart)
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
        self.restart_database(0.0)
        self.ports = {
            name: free_port()
            for name in ("gateway", "moto", "sandbox", "lambda", "websocket", "management")
        }
        self._moto = self._spawn(
            "moto", ["moto", "--host", HOST, "--port", str(self.ports["moto"])]
        )
        self._wait_http(f"{self.moto_url}/moto-api/", self._moto, "moto")
        stack = read_stack(load_template(PROJECT_ROOT / "template.yaml"), lambda n: n, {})
        self.consumed = {s.queue for f in stack.functions for s in f.queue_sources}
        f = self.faults
        self._sandbox = self._spawn(
            "sandbox",
            ["sandbox", "serve", "--host", HOST, "--port", str(self.ports["sandbox"]),
             "--webhook-url", sandbox_webhook_url(stack.routes, self.gateway_url),
             "--failure-rate", str(f.provider_failure_rate),
             "--timeout-rate", str(f.provider_timeout_rate),
             "--rate-limited-rate", str(f.provider_rate_limited_rate),
             "--undelivered-rate", str(f.undelivered_rate),
             "--latency", str(f.provider_latency),
             "--latency-jitter", str(f.provider_latency_jitter),
             "--stall", str(f.stall_seconds),
             "--callback-delay", "0.3", "--seed", str(f.seed),
             "--intermediate-statuses", f.intermediate_statuses,
             "--callback-lanes", str(self.concurrency)],
        )  # fmt: skip
        self._wait_http(f"{self.sandbox_url}/health", self._sandbox, "the sandbox")
        self.start_functions()
        return self

    def start_database(self) -> None:
        """In a process of its own each time: the server library keeps the server it
        started per process, and would not start it again after a stop."""
        code = (
            "import sys; from tether.db.embedded import start_embedded;"
            " print(start_embedded(__import__('pathlib').Path(sys.argv[1]), sys.argv[2]))"
        )
        started = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", code, str(self.pg_dir), DATABASE],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        if started.returncode != 0:
            raise SoakSetupError(f"PostgreSQL did not start: {started.stderr[-2000:]}")
        self.database_url = started.stdout.strip().splitlines()[-1]

    def restart_database(self, down_seconds: float) -> None:
        """A fast shutdown (sessions end), `down_seconds` without a server, a start."""
        stop_embedded(self.pg_dir, timeout_seconds=60)
        time.sleep(down_seconds)
        self.start_database()

    def start_functions(self, faults: bool = True) -> None:
        """Start the functions (ports as before); `faults` False: with no SQS faults."""
        (self.work_dir / STATE_FILE_NAME).unlink(missing_ok=True)
        f = self.faults
        self._faulty = faults
        self.functions_starts += 1
        self._functions = self._spawn(
            "functions",
            ["dev", "--host", HOST, "--port", str(self.ports["gateway"]),
             "--lambda-port", str(self.ports["lambda"]),
             "--websocket-port", str(self.ports["websocket"]),
             "--websocket-management-port", str(self.ports["management"]),
             "--aws-endpoint-url", self.moto_url, "--sandbox-url", self.sandbox_url,
             "--sqs-send-failure-rate", str(f.sqs_send_failure_rate if faults else 0.0),
             # each start draws other SQS faults, still from the seed
             "--fault-seed", str(f.seed * 1000 + self.functions_starts),
             "--queue-visibility", str(f.queue_visibility_seconds),
             "--concurrency", str(self.concurrency),
             "--log-level", "WARNING"],
            session=True,
        )  # fmt: skip
        self._wait_http(f"{self.gateway_url}/v1/health", self._functions, "the functions")

    def stop_functions(self) -> None:
        """SIGTERM: the functions finish what they run and stop."""
        process, self._functions = self._functions, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def kill_functions(self) -> None:
        """kill -9 of the functions and their containers at once (their own process
        group): no handler, no flush, every invocation cut wherever it was."""
        process, self._functions = self._functions, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def revive_functions(self) -> bool:
        """Start the functions again if they exited on their own (a crash: never a fault
        the soak injects, so each one is counted, and the run fails on it)."""
        process = self._functions
        if process is None or process.poll() is None:
            return False
        self.functions_crashes += 1
        self.start_functions(faults=self._faulty)
        return True

    def functions_running(self) -> bool:
        return self._functions is not None and self._functions.poll() is None

    def stop(self) -> None:
        for process in (self._functions, self._sandbox, self._moto):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._functions = self._sandbox = self._moto = None
        stop_embedded(self.pg_dir, timeout_seconds=60)
        for log in self._logs:
            log.close()
        self._logs.clear()

    # -- helpers --------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "TETHER_DATA_DIR": str(self.work_dir),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }

    def _spawn(
        self, name: str, arguments: list[str], session: bool = False
    ) -> subprocess.Popen[bytes]:
        """`session`: in a process group of its own, which a kill -9 takes whole."""
        log = (self.work_dir / f"{name}.log").open("a")
        self._logs.append(log)
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tether_dev", *arguments],
            cwd=PROJECT_ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=session,
        )

    @staticmethod
    def _wait_http(url: str, process: subprocess.Popen[bytes], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SoakSetupError(f"{what} exited ({process.returncode})")
            try:
                urllib3.request("GET", url, timeout=2, retries=False)
                return
            except urllib3.exceptions.HTTPError:
                time.sleep(0.2)
        raise SoakSetupError(f"{what} did not answer at {url} in {START_TIMEOUT_SECONDS}s")
