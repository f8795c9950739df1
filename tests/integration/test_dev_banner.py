"""The local stack's banner is printed once the stack serves: a database that is down
then must not end the stack (a soak's PostgreSQL restart landed there and killed it)."""

from __future__ import annotations

import socket

from tests.support.factories import MigratedDatabase
from tether.domain.api_keys import well_formed_key
from tether_dev.local.stack import demo_key_line


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_banner_issues_a_demo_key_when_the_database_is_up(
    test_database: MigratedDatabase,
) -> None:
    words = demo_key_line(test_database.admin_url, waits=()).split()
    assert words[:2] == ["API", "key"]
    assert well_formed_key(words[2]), words


def test_a_database_down_at_banner_time_is_said_not_fatal() -> None:
    down = f"postgresql://postgres@127.0.0.1:{_closed_port()}/tether?connect_timeout=2"
    line = demo_key_line(down, waits=(0.05,))
    assert "none issued" in line
    assert "database" in line
