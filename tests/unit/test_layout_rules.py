"""The house rules that keep the structure (issue 25), checked on the source so later work
keeps them: which package may import which (the "never" list of docs/ARCHITECTURE.md), the
size of modules and classes, and that every top-level package is installed."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250
# Files the size rules leave alone: generated migrations (one per schema change).
SIZE_EXEMPT = ("*/migrations/versions/*",)

# package -> top-level names it must never import, statically or by a string given to
# importlib, runpy or __import__ (the "never" list of docs/ARCHITECTURE.md).
NEVER: dict[str, frozenset[str]] = {
    "inference": frozenset(
        {"ray", "fastapi", "sqlalchemy", "storage", "spikes", "alerting", "training", "entrypoints"}
        | {"serve_app", "batch_jobs", "moodwire"}
    ),
    "spikes": frozenset(
        {"ray", "fastapi", "sqlalchemy", "torch", "inference", "storage", "alerting", "training", "entrypoints"}
        | {"serve_app", "batch_jobs", "moodwire"}
    ),
    "storage": frozenset(
        {"ray", "fastapi", "torch", "alerting", "training", "entrypoints", "serve_app", "batch_jobs", "moodwire"}
    ),
    "alerting": frozenset(
        {"ray", "fastapi", "torch", "training", "entrypoints", "serve_app", "batch_jobs", "moodwire"}
    ),
    "training": frozenset({"ray", "fastapi", "sqlalchemy", "storage", "serve_app", "batch_jobs", "moodwire"}),
    "entrypoints": frozenset({"ray", "torch", "training", "serve_app", "batch_jobs", "moodwire"}),
    "serve_app": frozenset({"batch_jobs", "training", "moodwire"}),
    "batch_jobs": frozenset({"serve_app", "training", "moodwire"}),
    "deploy": frozenset({"moodwire", "training"}),
}
STRING_IMPORTERS = {"import_module", "__import__", "run_module", "run_path", "find_spec"}


def top_level_packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_names(path: Path) -> set[str]:
    """Every module ``path`` imports: import statements, and the string a call to
    ``importlib.import_module``, ``runpy.run_module``, ``__import__``... is given."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and node.args:
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            first = node.args[0]
            if called in STRING_IMPORTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value.replace("/", ".").removesuffix(".py"))
    return names


def test_every_package_has_its_never_list():
    assert sorted(NEVER) == [p for p in top_level_packages() if p != "moodwire"]


@pytest.mark.parametrize("package", sorted(NEVER))
def test_a_package_imports_nothing_on_its_never_list(package):
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources(package)
        for name in sorted(imported_names(path))
        if name.split(".")[0] in NEVER[package]
    ]
    assert offenders == []


def test_the_string_import_check_sees_importlib_and_runpy(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "import importlib, runpy\nimportlib.import_module('moodwire.cli')\nrunpy.run_module('moodwire')\n",
        encoding="utf-8",
    )
    assert {"moodwire.cli", "moodwire"} <= imported_names(sneaky)


def _line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def checked_sources() -> list[Path]:
    out = []
    for package in top_level_packages():
        for path in sources(package):
            relative = str(path.relative_to(ROOT))
            if not any(fnmatch.fnmatch(relative, pattern) for pattern in SIZE_EXEMPT):
                out.append(path)
    return out


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in checked_sources() if (n := _line_count(p)) > MAX_MODULE_LINES}
    assert long == {}


def test_no_class_is_over_250_lines():
    long = {}
    for path in checked_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                span = node.end_lineno - node.lineno + 1
                if span > MAX_CLASS_LINES:
                    long[f"{path.relative_to(ROOT)}::{node.name}"] = span
    assert long == {}


def test_every_top_level_package_is_installed_and_goes_into_the_image():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    missing = [p for p in top_level_packages() if not any(fnmatch.fnmatch(p, pattern) for pattern in include)]
    assert missing == []
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    ignored = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert "COPY --chown=ray:users . ." in dockerfile  # the whole tree, then `pip install -e .`
    assert not [p for p in top_level_packages() if any(fnmatch.fnmatch(p, pattern) for pattern in ignored)]
