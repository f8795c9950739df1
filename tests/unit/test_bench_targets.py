"""Every benchmark prints its figures and nothing else (issue 20), as far as can be read
without running one: the Makefile runs each with WARNING logs and no EMF and passes ARGS
on, and each script's last print is one JSON line on stdout. Running them at small sizes
is tests/integration/test_bench_output.py."""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tether.config import PROJECT_ROOT

MAKEFILE = (PROJECT_ROOT / "Makefile").read_text()
TARGETS = sorted(re.findall(r"^(bench-[a-z]+):", MAKEFILE, re.MULTILINE))
# the benchmarks themselves: what runs as a script (bench/cost_model.py is arithmetic
# bench/cost.py imports)
SCRIPTS = sorted(
    path
    for path in (PROJECT_ROOT / "bench").glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text()
)
# Its children get the environment the template gives the functions (bench/coldstart.py's
# ENVIRONMENT: logs at CRITICAL, no EMF), which is part of what it measures: it is not
# held to the rule below (its script is, by the last test).
OWN_ENVIRONMENT = {"bench-coldstart"}
# Times the handler with its log lines and EMF as deployed, written to a file of its own
# (bench/webhook.py), so metrics stay enabled.
EMF_AS_DEPLOYED = {"bench-webhook"}
NAMES_KEPT = ["BIN=BIN", "ARGS=ARGS"]
MAKE_OWN = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}


def recipe(target: str) -> list[str]:
    """The words of the command `make target` runs (BIN and ARGS left as names)."""
    make = shutil.which("make")
    assert make, "the benchmarks run from the Makefile"
    # -o: a stale virtual environment is not rebuilt for a dry run; and not the flags of
    # a `make unit` this runs under
    dry_run = subprocess.run(
        [make, "-n", "--no-print-directory", "-o", ".venv/.paths", target, *NAMES_KEPT],
        cwd=PROJECT_ROOT,
        env={k: v for k, v in os.environ.items() if k not in MAKE_OWN},
        capture_output=True,
        text=True,
        check=True,
    )
    return shlex.split(dry_run.stdout)


def test_every_bench_script_has_a_target() -> None:
    assert sorted(f"bench-{script.stem}" for script in SCRIPTS) == TARGETS


@pytest.mark.parametrize("target", sorted(set(TARGETS) - OWN_ENVIRONMENT))
def test_bench_target_runs_without_log_lines_or_emf(target: str) -> None:
    words = recipe(target)
    command = words.index("BIN/python")
    environment = dict(word.split("=", 1) for word in words[:command])
    assert environment.get("TETHER_STAGE") == "local"
    assert environment.get("POWERTOOLS_LOG_LEVEL") in {"WARNING", "ERROR"}
    if target not in EMF_AS_DEPLOYED:
        assert environment.get("POWERTOOLS_METRICS_DISABLED") == "true"
    assert words[command + 1 :] == [f"bench/{target.removeprefix('bench-')}.py", "ARGS"]


def last_stdout_print(script: Path) -> ast.Call:
    """The script's print to stdout latest in its source (a print with file= is one to
    stderr: why a run failed)."""
    prints = [
        node
        for node in ast.walk(ast.parse(script.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
        and not any(keyword.arg == "file" for keyword in node.keywords)
    ]
    return max(prints, key=lambda node: (node.lineno, node.col_offset))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.name)
def test_bench_script_prints_one_json_line_last(script: Path) -> None:
    call = last_stdout_print(script)
    (printed,) = call.args
    assert not call.keywords, ast.unparse(call)
    assert isinstance(printed, ast.Call), ast.unparse(call)
    assert ast.unparse(printed.func) == "json.dumps", ast.unparse(call)
    assert not printed.keywords, f"{ast.unparse(call)}: one line"
