"""One post-processing assembly: the CLI, the Gateway, the backfill and the bench give the same
results for the same texts. Every face loads its models itself, through the real loaders, from
a settings file that chooses the fake models (``source: fake``, ``inference.fake_models``):
no weights, no Ray, no database, nothing patched."""

from __future__ import annotations

import asyncio
import json
import re

import numpy as np
import pytest

from inference.settings import load_pipeline_settings
from tests.unit.fakes import fake_model_config
from tests.unit.test_model_host import replica_context  # noqa: F401 - the @serve.batch fixture

TEXTS = [
    "I am furious about taxes",
    "happy to vote today",
    "the hospital queue",
    "nothing to see",
    "taxes taxes",
    "El hospital del barrio lleva dos semanas sin médicos",
    "Seit drei Stunden warten wir im Hospital, kein Arzt weit und breit",
]


@pytest.fixture()
def faces(tmp_path):
    """A settings file choosing the fake models (with precision options they ignore), and the
    settings read from it."""
    config = fake_model_config(tmp_path, options=", dtype: int8, runtime: onnxruntime")
    return {"config": config, "settings": load_pipeline_settings(config)}


def cli_results(faces, capsys, *, fake: bool = True) -> list[dict]:
    from moodwire.cli import main

    assert main(["classify", *TEXTS, "--config", str(faces["config"])]) == 0
    captured = capsys.readouterr()
    assert ("fake models in use (emotion, embedding)" in captured.err) == fake
    lines = [json.loads(line) for line in captured.out.splitlines()]
    return [{k: v for k, v in line.items() if k != "text"} for line in lines]


def gateway_results(faces) -> tuple[list[dict], str, bool]:
    from datetime import UTC, datetime

    from serve_app.batcher import HostBatcher
    from serve_app.model_clients import ColocatedModels
    from serve_app.model_host import ModelHost
    from serve_app.online import OnlineClassifier
    from serve_app.requests import classified_mentions, classify_response, validate_classify
    from serve_app.result_cache import MemoryResultCache
    from serve_app.schemas import ClassifyRequest
    from storage.records import RecordRules

    host = ModelHost.load(faces["settings"], cpus=1)  # as a Gateway replica loads its models
    online = OnlineClassifier(ColocatedModels(HostBatcher(host)), MemoryResultCache(100), faces["settings"])
    body = ClassifyRequest(items=[{"text": t} for t in TEXTS], persist=True)
    job = validate_classify(body, rules=RecordRules.default(), max_texts=100, now=datetime.now(UTC))
    analyses = asyncio.run(online.analyse(job.texts))
    stored = classified_mentions(job, analyses, online.model_version)
    response = classify_response(job, analyses)["results"]
    assert [p.record.result.to_dict() for p in stored] == response  # what is stored is what is answered
    assert {p.record.model_version for p in stored} == {online.model_version}
    return response, online.model_version, host.shared is not None


def backfill_results(faces, *, staged: bool) -> tuple[list[dict], set[str], bool]:
    from batch_jobs.udfs import AnalysisUDF, EmotionUDF, ModelsUDF, batch_records, validate_batch
    from inference.loading import classifier_labels_and_version
    from storage.records import RecordRules
    from storage.result_columns import ResultColumns

    config = str(faces["config"])
    batch = {"text": np.array([*TEXTS, ""], dtype=object)}
    batch = validate_batch(batch, rules=RecordRules.default())
    fused = None if staged else ModelsUDF(config)
    batch = AnalysisUDF(config)(EmotionUDF(config)(batch)) if fused is None else fused(batch)
    labels, _ = classifier_labels_and_version(faces["settings"].emotion.source)  # as the writers get them
    records, failed, _ = batch_records(batch, ResultColumns.for_outputs(labels))
    assert [reason for _, reason in failed] == ["text is empty"]
    shared = fused is not None and fused.models.shared is not None
    return [r.result.to_dict() for r in records], {r.model_version for r in records}, shared


def bench_results(faces) -> tuple[list[dict], str, bool]:
    from moodwire.bench.models import LoadedModels, naive_pipeline

    pipeline = naive_pipeline(LoadedModels.load(faces["settings"]), faces["settings"])
    results = [pipeline.classify([text])[0].to_dict() for text in TEXTS]  # one at a time
    return results, pipeline.model_version, pipeline.models.shared is not None


def test_the_four_faces_give_the_same_results(faces, capsys):
    from inference.versions import pipeline_model_version

    version = pipeline_model_version(faces["settings"])  # what the backfill compares stored rows with
    assert version.startswith("fake:emotion@1+fake:embedding@1+lang:")
    cli = cli_results(faces, capsys)
    gateway, gateway_version, _ = gateway_results(faces)
    fused, fused_versions, _ = backfill_results(faces, staged=False)
    staged, staged_versions, _ = backfill_results(faces, staged=True)
    bench, bench_version, _ = bench_results(faces)
    assert cli == gateway == fused == staged == bench
    assert {gateway_version, bench_version} | fused_versions | staged_versions == {version}
    # Not all alike, not all empty: the fake models follow the words of each text.
    assert [[t["key"] for t in r["topics"]] for r in cli] == [
        ["economy"],
        ["elections"],
        ["health"],
        [],
        ["economy"],
        ["health"],
        ["health"],
    ]
    assert [r["emotion"]["label"] for r in cli][:3] == ["anger", "joy", "neutral"]
    assert [r["sentiment"]["label"] for r in cli][:3] == ["negative", "positive", "neutral"]
    assert [(r["language"], r["language_supported"]) for r in cli][-2:] == [("es", False), ("de", False)]


def close(a, b) -> bool:
    """Results equal in every label, key and text, and in every number to 1e-5 (a model run
    alone and in the shared pass may differ in the last float bits)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-5
    return a == b


@pytest.mark.slow
def test_the_faces_run_one_shared_pass_on_a_tower(tmp_path, capsys):
    """With a tower artifact over the installed MiniLM (the default's shape), the CLI, the
    Gateway, the fused backfill and the bench run one encoder pass for both outputs, and give
    what the staged backfill (each model alone) gives."""
    from inference.versions import pipeline_model_version
    from tests.unit.towers import tower_model_config, write_tower_artifact

    config = tower_model_config(tmp_path, write_tower_artifact(tmp_path / "tower"))
    faces = {"config": config, "settings": load_pipeline_settings(config)}
    version = pipeline_model_version(faces["settings"])
    cli = cli_results(faces, capsys, fake=False)
    gateway, gateway_version, gateway_shared = gateway_results(faces)
    fused, fused_versions, fused_shared = backfill_results(faces, staged=False)
    staged, staged_versions, _ = backfill_results(faces, staged=True)
    bench, bench_version, bench_shared = bench_results(faces)
    assert gateway_shared and fused_shared and bench_shared
    assert close(cli, staged) and close(gateway, staged) and close(fused, staged) and close(bench, staged)
    assert {gateway_version, bench_version} | fused_versions | staged_versions == {version}
    assert re.fullmatch(
        rf"{re.escape(str(tmp_path / 'tower'))}@test-tower-[0-9a-f]{{8}}\+packaged:all-MiniLM-L6-v2\+lang:.+", version
    )
