"""One post-processing assembly: the CLI, the Gateway, the backfill and the bench give the same
results for the same texts. Every face loads its models itself, through the real loaders, from
a settings file that chooses the fake models (``source: fake``, ``inference.fake_models``):
no weights, no Ray, no database, nothing patched."""

from __future__ import annotations

import asyncio
import json

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


def cli_results(faces, capsys) -> list[dict]:
    from moodwire.cli import main

    assert main(["classify", *TEXTS, "--config", str(faces["config"])]) == 0
    captured = capsys.readouterr()
    assert "fake models in use (emotion, embedding)" in captured.err
    lines = [json.loads(line) for line in captured.out.splitlines()]
    return [{k: v for k, v in line.items() if k != "text"} for line in lines]


def gateway_results(faces) -> tuple[list[dict], str]:
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
    return response, online.model_version


def backfill_results(faces, *, staged: bool) -> tuple[list[dict], set[str]]:
    from batch_jobs.udfs import AnalysisUDF, EmotionUDF, ModelsUDF, batch_records, validate_batch
    from inference.loading import classifier_labels_and_version
    from storage.records import RecordRules
    from storage.result_columns import ResultColumns

    config = str(faces["config"])
    batch = {"text": np.array([*TEXTS, ""], dtype=object)}
    batch = validate_batch(batch, rules=RecordRules.default())
    batch = AnalysisUDF(config)(EmotionUDF(config)(batch)) if staged else ModelsUDF(config)(batch)
    labels, _ = classifier_labels_and_version(faces["settings"].emotion.source)  # as the writers get them
    records, failed, _ = batch_records(batch, ResultColumns.for_outputs(labels))
    assert [reason for _, reason in failed] == ["text is empty"]
    return [r.result.to_dict() for r in records], {r.model_version for r in records}


def bench_results(faces) -> tuple[list[dict], str]:
    from moodwire.bench.models import LoadedModels, naive_pipeline

    pipeline = naive_pipeline(LoadedModels.load(faces["settings"]), faces["settings"])
    return [pipeline.classify([text])[0].to_dict() for text in TEXTS], pipeline.model_version  # one at a time


def test_the_four_faces_give_the_same_results(faces, capsys):
    from inference.versions import pipeline_model_version

    version = pipeline_model_version(faces["settings"])  # what the backfill compares stored rows with
    assert version.startswith("fake:emotion@1+fake:embedding@1+lang:")
    cli = cli_results(faces, capsys)
    gateway, gateway_version = gateway_results(faces)
    fused, fused_versions = backfill_results(faces, staged=False)
    staged, staged_versions = backfill_results(faces, staged=True)
    bench, bench_version = bench_results(faces)
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
