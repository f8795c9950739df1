"""Databases of their own, for tests and benchmarks, on the server in use: DATABASE_URL's,
or the embedded one of this checkout. Development only: never imported by a function."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tether.config import DatabaseSettings
from tether.db.embedded import create_database, drop_database, start_embedded
from tether.db.migrations import apply_pending


def server_url() -> str:
    """The owner's URL of the server: DATABASE_URL, else the embedded server (started)."""
    settings = DatabaseSettings()
    return settings.database_url or start_embedded(settings.tether_data_dir, "postgres")


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database of the same server."""
    return make_conninfo("", **{**conninfo_to_dict(url), "dbname": database})


@contextmanager
def scratch_database(name: str, *, migrate: bool = True) -> Iterator[str]:
    """A fresh database `name` (an old one is dropped first), migrated unless told not
    to; yields its owner's URL and drops it afterwards."""
    server = server_url()
    drop_database(server, name)
    create_database(server, name)
    try:
        url = with_database(server, name)
        if migrate:
            apply_pending(conninfo=url)
        yield url
    finally:
        drop_database(server, name)
