"""The local stack as a user runs it: `python -m tether_dev dev` in a subprocess, on free
ports, against a database of its own on the test server, driven over HTTP only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.support.dev_stack import DevStack
from tether.config import PROJECT_ROOT
from tether.db.embedded import create_database, drop_database
from tether_dev.scratch import server_url, with_database

START_TIMEOUT_SECONDS = 60.0


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    server = server_url()
    name = f"tether_e2e_{uuid.uuid4().hex[:8]}"
    create_database(server, name)
    data_dir = tmp_path_factory.mktemp("tether-dev")
    env = {
        **os.environ,
        "DATABASE_URL": with_database(server, name),
        "TETHER_DATA_DIR": str(data_dir),
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    log_path = data_dir / "dev.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tether_dev",
                "dev",
                "--port",
                "0",
                "--sandbox-port",
                "0",
                "--moto-port",
                "0",
                "--lambda-port",
                "0",
                "--websocket-port",
                "0",
                "--websocket-management-port",
                "0",
                "--sandbox-callback-delay",
                "0.2",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    stack = DevStack(process, {}, env, log_path)
    try:
        stack.state = _wait_until_serving(stack, data_dir / "dev.json")
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        drop_database(server, name)


def _wait_until_serving(stack: DevStack, state_file: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(f"the stack exited ({stack.process.returncode}):\n{stack.log()}")
        if state_file.exists():
            state: dict[str, Any] = json.loads(state_file.read_text())
            try:
                urllib3.request("GET", f"{state['gateway_url']}/v1/health", timeout=2)
                return state
            except urllib3.exceptions.HTTPError:
                pass
        time.sleep(0.2)
    pytest.fail(f"the stack was not serving after {START_TIMEOUT_SECONDS}s:\n{stack.log()}")
