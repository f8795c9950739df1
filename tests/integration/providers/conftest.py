"""Provider adapters over real HTTP on 127.0.0.1: the sandbox provider server, and a
stub that answers like a real provider's API. Nothing here leaves the machine."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.providers import StubProvider
from tether.providers.sandbox import SandboxProvider
from tether_dev.sandbox import SandboxServer


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(stall_seconds=5.0)


@pytest.fixture
def sandbox_provider(sandbox: SandboxServer) -> SandboxProvider:
    return SandboxProvider(sandbox.url, sandbox.config.account_id, sandbox.config.api_token)


@pytest.fixture
def stub() -> Iterator[StubProvider]:
    server = StubProvider().start()
    yield server
    server.stop()
