"""Importing a handler loads no AWS SDK and no X-Ray SDK: the tracer is made on the
first invocation and boto3 clients on first use, so a cold start pays for neither
before it needs them. Each import in a fresh interpreter, as a Lambda container is."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tether.config import PROJECT_ROOT

HANDLERS = [
    "api",
    "webhook",
    "inbound",
    "outbound",
    "timers",
    "sweeper",
    "pool_release",
    "websocket",
    "websocket_authorizer",
]
# (the botocore package itself is imported by Powertools for its user agent: 0.4 ms)
HEAVY = ["aws_xray_sdk", "wrapt", "boto3", "botocore.session", "botocore.client"]


@pytest.mark.parametrize("function", HANDLERS)
def test_importing_a_handler_loads_no_sdk(function: str) -> None:
    script = (
        f"import json, sys; import functions.{function}.app;"
        f" print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(ran.stdout) == []
