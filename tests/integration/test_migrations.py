"""The migration runner against real, empty databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from functions.migrate import app as migrate_function
from tests.support.lambda_context import LambdaContextStub
from tether.db.connection import connect
from tether.db.migrations import MIGRATIONS_DIR, MigrationError, apply_pending, load_migrations


def _applied(url: str) -> list[str]:
    with connect(url) as conn:
        return [r["name"] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def test_applies_every_file_in_order_then_nothing(fresh_database: str) -> None:
    names = [m.name for m in load_migrations()]
    assert apply_pending(conninfo=fresh_database) == names
    assert apply_pending(conninfo=fresh_database) == []
    assert _applied(fresh_database) == names


def test_refuses_to_run_when_an_applied_file_was_edited(
    fresh_database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    apply_pending(folder, conninfo=fresh_database)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent comment\n")
    (folder / "9999_later.sql").write_text("CREATE TABLE later (id int);")
    with pytest.raises(MigrationError, match=first.name):
        apply_pending(folder, conninfo=fresh_database)
    # nothing pending was applied either
    assert "9999_later.sql" not in _applied(fresh_database)


def test_refuses_to_run_when_an_applied_file_is_missing(
    fresh_database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    apply_pending(folder, conninfo=fresh_database)
    last = sorted(folder.glob("*.sql"))[-1]
    last.unlink()
    with pytest.raises(MigrationError, match="missing"):
        apply_pending(folder, conninfo=fresh_database)


def test_a_failing_file_leaves_nothing_half_applied(fresh_database: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "9998_half.sql").write_text("CREATE TABLE half (id int);\nSELECT 1/0;")
    with pytest.raises(Exception, match="division by zero"):
        apply_pending(folder, conninfo=fresh_database)
    assert "9998_half.sql" not in _applied(fresh_database)
    with connect(fresh_database) as conn:
        assert conn.execute("SELECT to_regclass('half') AS t").fetchone() == {"t": None}


def test_refuses_badly_named_files(tmp_path: Path) -> None:
    (tmp_path / "add_things.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_words\.sql"):
        load_migrations(tmp_path)


def test_concurrent_runs_apply_each_file_once(fresh_database: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(apply_pending(conninfo=fresh_database))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = [m.name for m in load_migrations()]
    assert sorted(results, key=len) == [[], [], names]
    assert _applied(fresh_database) == names


def test_migrate_function_ships_and_applies_the_migrations(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert migrate_function.MIGRATIONS.resolve() == MIGRATIONS_DIR.resolve()
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    from tether.config import database_settings

    database_settings.cache_clear()
    try:
        result = migrate_function.handler({}, LambdaContextStub())  # type: ignore[arg-type]
    finally:
        database_settings.cache_clear()
    assert result == {"applied": [m.name for m in load_migrations()]}


def test_embedded_server_starts_reuses_and_stops(tmp_path: Path) -> None:
    from tether.db.embedded import start_embedded, stop_embedded

    url = start_embedded(tmp_path, "tether")
    assert start_embedded(tmp_path, "tether") == url  # reused while running
    with connect(url) as conn:
        assert conn.execute("SELECT current_database() AS db").fetchone() == {"db": "tether"}
    assert stop_embedded(tmp_path)
    assert not stop_embedded(tmp_path)


def test_processes_starting_the_embedded_server_together_share_one(tmp_path: Path) -> None:
    """pytest-xdist workers start the server together: none may read the postmaster.pid
    another is still writing (CI failed on it once)."""
    from tether.db.embedded import stop_embedded

    starter = (
        "import sys; from pathlib import Path; from tether.db.embedded import start_embedded; "
        "print(start_embedded(Path(sys.argv[1]), 'tether'))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", starter, str(tmp_path)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        results = [process.communicate(timeout=120) for process in processes]
        assert [process.returncode for process in processes] == [0] * 4, [e for _, e in results]
        assert len({out.splitlines()[-1] for out, _ in results}) == 1
    finally:
        stop_embedded(tmp_path)
