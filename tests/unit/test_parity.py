"""One post-processing assembly: the CLI, the Gateway, the backfill and the bench give the same
results for the same texts (fake models behind the real interfaces; no Ray, no database)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from tests.unit.fakes import fake_models, fake_settings
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
def faces(tmp_path, monkeypatch):
    """Every loader the faces call hands out the same fake models."""
    import inference.embedding
    import inference.loading
    import inference.pipeline
    import inference.versions
    from inference.emotion import EmotionClassifier

    emotion, embedder = fake_models()
    monkeypatch.setattr(EmotionClassifier, "from_spec", classmethod(lambda cls, spec: emotion))
    for module in (inference.embedding, inference.pipeline):
        monkeypatch.setattr(module, "build_embedder", lambda settings: embedder)
    labels_and_version = lambda source: (list(emotion.labels), emotion.version)  # noqa: E731
    monkeypatch.setattr(inference.loading, "classifier_labels_and_version", labels_and_version)
    monkeypatch.setattr(inference.versions, "classifier_labels_and_version", labels_and_version)
    settings = fake_settings(tmp_path)
    config = tmp_path / "moodwire.yaml"
    config.write_text(f"topics_file: {settings.topics_file}\n", encoding="utf-8")
    return {"emotion": emotion, "embedder": embedder, "settings": settings, "config": config}


def cli_results(faces, capsys) -> list[dict]:
    from moodwire.cli import main

    assert main(["classify", *TEXTS, "--config", str(faces["config"])]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [{k: v for k, v in line.items() if k != "text"} for line in lines]


def gateway_results(faces) -> list[dict]:
    from datetime import UTC, datetime

    from serve_app.batcher import HostBatcher
    from serve_app.model_clients import ColocatedModels
    from serve_app.model_host import ModelHost
    from serve_app.online import OnlineClassifier
    from serve_app.requests import classified_mentions, classify_response, validate_classify
    from serve_app.result_cache import MemoryResultCache
    from serve_app.schemas import ClassifyRequest
    from storage.records import RecordRules

    host = ModelHost(emotion=faces["emotion"], embedder=faces["embedder"])
    online = OnlineClassifier(ColocatedModels(HostBatcher(host)), MemoryResultCache(100), faces["settings"])
    body = ClassifyRequest(items=[{"text": t} for t in TEXTS], persist=True)
    job = validate_classify(body, rules=RecordRules.default(), max_texts=100, now=datetime.now(UTC))
    analyses = asyncio.run(online.analyse(job.texts))
    stored = classified_mentions(job, analyses, online.model_version)
    response = classify_response(job, analyses)["results"]
    assert [p.record.result.to_dict() for p in stored] == response  # what is stored is what is answered
    assert {p.record.model_version for p in stored} == {online.model_version}
    return response


def backfill_results(faces) -> tuple[list[dict], set[str]]:
    from batch_jobs.udfs import ModelsUDF, batch_records, validate_batch
    from storage.records import RecordRules

    batch = {"text": np.array([*TEXTS, ""], dtype=object)}
    batch = validate_batch(batch, rules=RecordRules.default())
    batch = ModelsUDF(str(faces["config"]))(batch)
    records, failed, _ = batch_records(batch, list(faces["emotion"].labels))
    assert [reason for _, reason in failed] == ["text is empty"]
    return [r.result.to_dict() for r in records], {r.model_version for r in records}


def bench_results(faces) -> list[dict]:
    from moodwire.bench.models import LoadedModels, naive_pipeline

    pipeline = naive_pipeline(LoadedModels(faces["emotion"], faces["embedder"]), faces["settings"])
    assert pipeline.model_version == faces["version"]
    return [pipeline.classify([text])[0].to_dict() for text in TEXTS]  # one text at a time, as the bench


def test_the_four_faces_give_the_same_results(faces, capsys):
    from inference.language import detector_version
    from inference.versions import model_version

    faces["version"] = model_version(faces["emotion"].version, faces["embedder"].version, detector_version())
    cli = cli_results(faces, capsys)
    gateway = gateway_results(faces)
    backfill, versions = backfill_results(faces)
    bench = bench_results(faces)
    assert cli == gateway == backfill == bench
    assert [[t["key"] for t in r["topics"]] for r in cli][:3] == [["economy"], ["elections"], ["health"]]
    assert {r["emotion"]["label"] for r in cli} >= {"anger", "joy"}
    assert [(r["language"], r["language_supported"]) for r in cli][-2:] == [("es", False), ("de", False)]
    assert [[t["key"] for t in r["topics"]] for r in cli[-2:]] == [["health"], ["health"]]  # topics all the same
    assert versions == {faces["version"]}
