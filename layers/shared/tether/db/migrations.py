"""The migration runner: numbered plain-SQL files, applied in order, once.

Each pending file runs in its own transaction and is recorded with its checksum in
``schema_migrations``. The whole run holds an advisory lock, so two deploys (or two
test workers) never migrate the same database at once. A file that was edited after
it was applied, or that disappeared, stops the run before anything is applied: the
database would no longer match the files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from tether.config import PROJECT_ROOT
from tether.db.connection import Connection
from tether.observability import logger

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
FILE_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
# pg_advisory_lock key: "tether.m" as a big-endian integer, fixed for all versions.
LOCK_KEY = int.from_bytes(b"tether.m", "big", signed=True)


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str
    checksum: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of `directory`, in the order they apply."""
    if not directory.is_dir():
        raise MigrationError(f"no migrations folder at {directory}")
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        if not FILE_NAME.match(path.name):
            raise MigrationError(f"{path.name}: migration files are named NNNN_words.sql")
        data = path.read_bytes()
        migrations.append(Migration(path.name, data.decode(), hashlib.sha256(data).hexdigest()))
    numbers = [m.name[:4] for m in migrations]
    if len(numbers) != len(set(numbers)):
        raise MigrationError(f"two migration files share a number in {directory}")
    return migrations


def migrate(conn: Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the pending migrations of `directory` over an admin connection in
    autocommit mode. Returns the names applied, in order."""
    if not conn.autocommit:
        raise MigrationError("migrate needs an autocommit connection (one transaction per file)")
    migrations = load_migrations(directory)
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {
            row["name"]: row["checksum"]
            for row in conn.execute("SELECT name, checksum FROM schema_migrations")
        }
        _check_applied(applied, migrations, directory)
        done = []
        for migration in migrations:
            if migration.name in applied:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                    (migration.name, migration.checksum),
                )
            logger.info("applied migration", extra={"migration": migration.name})
            done.append(migration.name)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _check_applied(applied: dict[str, str], migrations: list[Migration], directory: Path) -> None:
    on_disk = {m.name: m.checksum for m in migrations}
    edited = sorted(
        name for name, checksum in applied.items() if on_disk.get(name, checksum) != checksum
    )
    missing = sorted(name for name in applied if name not in on_disk)
    if edited:
        raise MigrationError(
            f"applied migrations were edited since: {', '.join(edited)}; "
            "add a new migration instead of changing an applied one"
        )
    if missing:
        raise MigrationError(
            f"applied migrations are missing from {directory}: {', '.join(missing)}"
        )


def apply_pending(directory: Path = MIGRATIONS_DIR, conninfo: str | None = None) -> list[str]:
    """Connect as the schema owner and apply what is pending in `directory`."""
    from tether.db.connection import connect, conninfo_for

    with connect(conninfo or conninfo_for("admin"), autocommit=True, timeout=30) as conn:
        return migrate(conn, directory)
