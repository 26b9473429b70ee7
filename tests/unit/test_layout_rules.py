"""The house rules that keep the structure (issue 25), checked on the source so later work
keeps them: the size of modules and classes, and that every top-level package is installed.
Which package may import which is ``test_import_floor.py``'s."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250
# Files the size rules leave alone: generated migrations (one per schema change).
SIZE_EXEMPT = ("*/migrations/versions/*",)


def top_level_packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


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
