"""The provider sandbox as a process of its own under the local stack, as a provider is
another system: its log lines are its own (not mixed into the running function's
keys), and it talks to the stack over HTTP only.

`python -m tether_dev sandbox serve` runs it; `SandboxProcess` starts and stops it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tether_dev.local.aws import claim_port

READY_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SandboxOptions:
    host: str
    port: int
    webhook_url: str
    failure_rate: float = 0.0
    undelivered_rate: float = 0.0
    latency_seconds: float = 0.0
    callback_delay_seconds: float = 0.5

    def arguments(self) -> list[str]:
        return [
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--webhook-url",
            self.webhook_url,
            "--failure-rate",
            str(self.failure_rate),
            "--undelivered-rate",
            str(self.undelivered_rate),
            "--latency",
            str(self.latency_seconds),
            "--callback-delay",
            str(self.callback_delay_seconds),
        ]


@dataclass
class SandboxProcess:
    options: SandboxOptions
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    signing_secret: str = ""
    api_token: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def start(self) -> SandboxProcess:
        """Start it and wait until it answers."""
        import urllib3

        from tether_dev.sandbox.server import DEV_SIGNING_SECRET, SandboxConfig

        port = claim_port(self.options.host, self.options.port)
        self.options = SandboxOptions(**{**self.options.__dict__, "port": port})
        self.signing_secret, self.api_token = DEV_SIGNING_SECRET, SandboxConfig().api_token
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            # the stack's process group: Ctrl-C in a terminal reaches both
            [sys.executable, "-m", "tether_dev", "sandbox", "serve", *self.options.arguments()],
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the sandbox exited ({self._process.returncode})")
            try:
                urllib3.request("GET", f"{self.url}/health", timeout=1, retries=False)
                return self
            except urllib3.exceptions.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the sandbox did not answer in {READY_TIMEOUT_SECONDS}s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(args: Any) -> int:
    """The sandbox's own process: serve until SIGINT or SIGTERM."""
    from tether.observability import logger
    from tether_dev.local.logs import use_terminal_logs
    from tether_dev.sandbox import SandboxConfig, SandboxFault, SandboxServer

    use_terminal_logs()
    logger.append_keys(function_name="sandbox")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    rates = {
        SandboxFault.SERVER_ERROR: args.failure_rate,
        SandboxFault.TIMEOUT: args.timeout_rate,
        SandboxFault.RATE_LIMITED: args.rate_limited_rate,
    }
    config = SandboxConfig(
        open_accounts=True,
        webhook_url=args.webhook_url,
        fault_rates={fault: rate for fault, rate in rates.items() if rate},
        seed=args.seed,
        undelivered_rate=args.undelivered_rate,
        latency_seconds=args.latency,
        latency_jitter_seconds=args.latency_jitter,
        stall_seconds=args.stall,
        callback_delay_seconds=args.callback_delay,
        intermediate_statuses=tuple(s for s in args.intermediate_statuses.split(",") if s),
        callback_lanes=args.callback_lanes,
    )
    sandbox = SandboxServer(config, host=args.host, port=args.port).start()
    parent = os.getppid()
    try:
        # a stack killed outright (SIGKILL) cannot stop us: no orphan outlives it
        while not stop.wait(1.0):
            if os.getppid() != parent:
                break
    finally:
        sandbox.stop()
    return 0
