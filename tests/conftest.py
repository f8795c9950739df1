"""Every test tier runs as the local stage (tether.config.StageSettings): `local:` secret
references, the sandbox provider and custom provider URLs are accepted only there. A
test of another stage sets TETHER_STAGE itself and clears `stage_settings`.

No test may hang on the wall clock or on the order tests run in: hypothesis has no
per-example deadline (a loaded machine is not a failure of Tether), and `--shuffle SEED`
or `--reverse` runs the collected tests in another order to show none depends on it."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TETHER_STAGE", "local")

settings.register_profile("tether", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tether")


def pytest_addoption(parser: pytest.Parser) -> None:
    order = parser.getgroup("tether", "test order")
    order.addoption(
        "--shuffle",
        type=int,
        metavar="SEED",
        help="run the collected tests in the random order SEED draws",
    )
    order.addoption(
        "--reverse", action="store_true", help="run the collected tests in reverse order"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = config.getoption("--shuffle")
    if seed is not None:
        random.Random(seed).shuffle(items)
    if config.getoption("--reverse"):
        items.reverse()


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = config.getoption("--shuffle")
    reverse = config.getoption("--reverse")
    if seed is None and not reverse:
        return None
    return f"test order: shuffle seed {seed}, reversed {reverse}"
