"""The shared layer ships its bytecode: `sam build` runs layers/shared/Makefile, which
compiles every module for Python 3.12, unchecked, since Lambda's /opt is read-only and a
module without its .pyc is compiled again on every cold start (bench/coldstart.py
--built). Here the Makefile's package and bytecode steps run on a copy of the layer's
folder (its requirements step downloads wheels: `make deploy-check` runs the whole
build and checks the same of every module, tether_dev.local.deploy_check)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tether.config import PROJECT_ROOT
from tether_dev.local.deploy_check import DeployCheckFailed, check_layer_bytecode
from tether_dev.local.template import load_template

LAYER = PROJECT_ROOT / "layers" / "shared"


def _python312() -> str:
    """The Lambda runtime's Python, as `make build` finds it (on PATH, else pyenv's)."""
    for candidate in [
        "python3.12",
        *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")),
    ]:
        found = shutil.which(candidate)
        if found and subprocess.run([found, "--version"], capture_output=True).returncode == 0:
            return found
    pytest.skip("no Python 3.12 (the Lambda runtime's) on this machine; `make build` needs one")


def test_the_template_builds_the_layer_with_its_makefile_for_its_architecture() -> None:
    layer = load_template(PROJECT_ROOT / "template.yaml")["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    # SAM does not tell a makefile the architecture: its default is the template's
    default = [
        line.split("?=")[1].strip()
        for line in (LAYER / "Makefile").read_text().splitlines()
        if line.startswith("LAYER_ARCHITECTURE ?=")
    ]
    assert default == [layer["Metadata"]["BuildArchitecture"]]
    assert layer["Properties"]["CompatibleArchitectures"] == default


def test_the_layer_ships_unchecked_python_312_bytecode_for_every_module(tmp_path: Path) -> None:
    python = _python312()
    make = shutil.which("make")
    assert make, "sam build runs the layer's Makefile with make"
    source = tmp_path / "source"
    shutil.copytree(LAYER, source, ignore=shutil.ignore_patterns("__pycache__"))
    # a local cache left beside the sources, of a module no longer there: not shipped
    stale = source / "tether" / "gone" / "__pycache__" / "old.cpython-312.pyc"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    artifacts = tmp_path / "artifacts"
    subprocess.run(
        [make, "--no-print-directory", "layer-package", "layer-bytecode"],
        cwd=source,
        env={**os.environ, "ARTIFACTS_DIR": str(artifacts), "PYTHON": python},
        capture_output=True,
        check=True,
        timeout=120,
    )
    package = artifacts / "python" / "tether"
    modules = sorted(package.rglob("*.py"))
    assert len(modules) == len(list((LAYER / "tether").rglob("*.py"))) > 100
    assert check_layer_bytecode(artifacts) == len(modules)
    # each .pyc is a module's: nothing else came along
    assert sorted(
        p.parent.parent / f"{p.name.split('.')[0]}.py" for p in package.rglob("*.pyc")
    ) == sorted(modules)

    # unchecked: Python 3.12 runs the bytecode whatever the source now says or its
    # time is (a zip's timestamps), and writes nothing (read-only, as /opt is)
    (package / "__init__.py").write_text("raise RuntimeError('compiled again from source')\n")
    ran = subprocess.run(
        [python, "-c", "import tether, json; print(json.dumps(tether.__doc__))"],
        env={"PYTHONPATH": str(artifacts / "python"), "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert "shared package" in ran.stdout


def test_the_deploy_check_refuses_a_layer_without_its_bytecode(tmp_path: Path) -> None:
    module = tmp_path / "python" / "tether" / "config.py"
    module.parent.mkdir(parents=True)
    module.write_text("")
    with pytest.raises(DeployCheckFailed, match="1 of 1 modules"):
        check_layer_bytecode(tmp_path)
    compiled = module.parent / "__pycache__" / "config.cpython-312.pyc"
    compiled.parent.mkdir()
    # a timestamp-checked .pyc (flags 0) would be compiled again after the zip's times
    compiled.write_bytes(b"\xcb\r\r\n" + b"\0" * 12)
    with pytest.raises(DeployCheckFailed):
        check_layer_bytecode(tmp_path)
    compiled.write_bytes(b"\xcb\r\r\n\x01\0\0\0" + b"\0" * 8)
    assert check_layer_bytecode(tmp_path) == 1
