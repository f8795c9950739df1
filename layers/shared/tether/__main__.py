"""Command line: ``python -m tether migrate | db-url | db-stop | tenant create NAME``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from tether.config import database_settings
from tether.db.connection import conninfo_for
from tether.db.migrations import MIGRATIONS_DIR, MigrationError, apply_pending


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tether")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "migrate", help="apply pending migrations (embedded database when DATABASE_URL is unset)"
    )
    db_url = commands.add_parser("db-url", help="print the connection URL of a database role")
    db_url.add_argument("--role", choices=("admin", "app", "jobs"), default="admin")
    commands.add_parser("db-stop", help="stop the embedded PostgreSQL of this checkout")
    tenant = commands.add_parser("tenant", help="manage tenants")
    tenant_commands = tenant.add_subparsers(dest="tenant_command", required=True)
    create = tenant_commands.add_parser(
        "create", help="create a tenant and print its first API key (shown only this once)"
    )
    create.add_argument("name")
    args = parser.parse_args(argv)

    if args.command == "tenant":
        return _create_tenant(args.name)

    if args.command == "db-stop":
        from tether.db.embedded import stop_embedded

        stopped = stop_embedded(database_settings().tether_data_dir)
        print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
        return 0

    if args.command == "db-url":
        print(conninfo_for(args.role))
        return 0

    started = time.monotonic()
    try:
        applied = apply_pending(MIGRATIONS_DIR)
    except MigrationError as error:
        print(f"migrate: {error}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    if applied:
        print(f"applied {len(applied)} migration(s) in {elapsed:.2f}s: {', '.join(applied)}")
    else:
        print(f"database is up to date ({elapsed:.2f}s)")
    return 0


def _create_tenant(name: str) -> int:
    from tether.db.connection import FreshConnections
    from tether.domain.errors import TetherError
    from tether.services.api_keys import create_tenant

    try:
        # the jobs role: a tenant has no tenant of its own to act as until it exists
        tenant_id, issued = create_tenant(FreshConnections(conninfo_for("jobs")), name)
    except TetherError as error:
        print(f"tenant create: {error}", file=sys.stderr)
        return 1
    print(f"tenant {tenant_id} created")
    print(f"API key (shown once, store it now): {issued.key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
