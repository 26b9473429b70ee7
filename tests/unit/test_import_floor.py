"""The light floor: storage, the error tables and the CLI start without torch, and the batch
jobs import nothing from the Serve app (fresh interpreters, so earlier imports cannot hide
a dependency)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers")


@pytest.mark.parametrize(
    "statement",
    [
        "import storage.records, storage.service, storage.factory, storage.errors",
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


def test_batch_jobs_import_nothing_from_the_serve_app():
    offenders = []
    for path in sorted((ROOT / "batch_jobs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "serve_app"]
    assert offenders == []
