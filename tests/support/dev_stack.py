"""The running local stack as the e2e tests see it: its process, state file and log."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether_dev.local.client import LocalStack


@dataclass
class DevStack:
    process: subprocess.Popen[str]
    state: dict[str, Any]
    env: dict[str, str]
    log_path: Path

    @property
    def gateway(self) -> str:
        return str(self.state["gateway_url"])

    @property
    def client(self) -> LocalStack:
        return LocalStack(self.state)

    @property
    def database_url(self) -> str:
        return str(self.state["database_url"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
