"""The import rules of docs/ARCHITECTURE.md (its "never" column), checked on the source:
which package may import which, an import written as a string for ``importlib``, ``runpy``
or ``__import__`` included; so the two faces import nothing from each other and nothing
outside ``moodwire/`` imports ``moodwire``. And the light floor, checked at run time in fresh
interpreters (earlier imports cannot hide a dependency): storage, the error tables, the alert
watcher and the CLI start without torch, and the spike detector without scipy until it
computes a tail."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers")

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


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def top_level_packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")


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


@pytest.mark.parametrize(
    "statement",
    [
        "import storage.records, storage.service, storage.factory, storage.errors, storage.reads",
        "import alerting.watcher, alerting.settings, entrypoints.exit_codes",
        "import serve_app.errors, serve_app.requests, serve_app.model_host",
        "import moodwire.cli; moodwire.cli.build_parser()",
        "import inference.validation, inference.interfaces, inference.postprocess, inference.versions",
        "import inference.language; inference.language.LanguageDetector().load()",  # numpy only
    ],
)
def test_light_modules_do_not_import_torch(statement):
    check = f"import sys; {statement}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]", output.stdout


def test_the_spike_detector_loads_scipy_only_to_compute_a_tail():
    check = (
        "import sys, spikes; before = 'scipy' in sys.modules; "
        "from spikes.significance import negative_binomial_tail; negative_binomial_tail(3, 1.0, 0.0); "
        "print(before, 'scipy.special' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["False", "True"]
