"""The Serve unit tier: the model host, its batcher, the models clients and the online
classifier, on fake models under plain asyncio (no Ray, no database, no weights)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from serve_app.batcher import HostBatcher
from serve_app.config import BatchConfig, ColocatedBatchConfig
from serve_app.errors import ServiceBusyError
from serve_app.model_clients import ColocatedModels
from serve_app.model_host import HostOutputs, ModelHost, ModelInfo
from serve_app.online import OnlineClassifier
from serve_app.result_cache import MemoryResultCache
from tests.unit.fakes import KeywordEmotion, fake_models, fake_settings


@pytest.fixture(autouse=True)
def replica_context(monkeypatch):
    """``@serve.batch`` asks the replica's context for ``max_ongoing_requests``; outside a
    replica there is none, so give it one (as Ray's own batching tests do)."""
    from types import SimpleNamespace

    from ray import serve

    context = SimpleNamespace(_deployment_config=SimpleNamespace(max_ongoing_requests=128))
    monkeypatch.setattr(serve, "get_replica_context", lambda: context)
    yield
    # The batch queue belongs to the decorated method (a replica process has one batcher) and
    # to the event loop it first ran in: each test's asyncio.run needs a fresh one.
    HostBatcher._batch.set_max_batch_size.__self__._queue = None


def test_host_computes_the_models_it_holds_and_reports_them():
    emotion, embedder = fake_models()
    seen = []
    host = ModelHost(emotion=emotion, embedder=embedder, observe=lambda *call: seen.append(call))
    out = host.compute(["I am furious", "vote today"])
    assert out.probs.shape == (2, len(KeywordEmotion.labels)) and out.vectors.shape == (2, embedder.dim)
    assert [model for model, _, _ in seen] == ["emotion", "embedding"] and {n for _, n, _ in seen} == {2}
    info = host.info()
    assert info == ModelInfo(tuple(KeywordEmotion.labels), emotion.version, embedder.dim, embedder.version)
    assert info.model_version == f"{emotion.version}+{embedder.version}"
    assert host.count_tokens(["abcd efgh"]) > 0  # no tokenizer: estimated from characters

    emotion_only = ModelHost(emotion=emotion).compute(["x"])
    assert emotion_only.vectors is None and emotion_only.probs.shape == (1, len(KeywordEmotion.labels))
    with pytest.raises(ValueError, match="no embedding model"):
        ModelHost(emotion=emotion).embed(["x"])
    with pytest.raises(ValueError, match="at least one model"):
        ModelHost()


def test_infos_of_the_two_deployments_merge_into_one():
    emotion, embedder = fake_models()
    merged = ModelHost(emotion=emotion).info().merged(ModelHost(embedder=embedder).info())
    assert merged.model_version == f"{emotion.version}+{embedder.version}"
    assert merged.as_dict()["embedding"]["dim"] == embedder.dim
    with pytest.raises(ValueError, match="both models"):
        _ = ModelHost(emotion=emotion).info().model_version


def test_outputs_split_back_per_caller_in_order():
    outputs = HostOutputs(probs=np.arange(10).reshape(5, 2), vectors=None)
    parts = outputs.split([2, 0, 3])
    assert [p.probs.tolist() for p in parts] == [[[0, 1], [2, 3]], [], [[4, 5], [6, 7], [8, 9]]]
    assert HostOutputs.concat(parts).probs.tolist() == outputs.probs.tolist()
    assert all(p.vectors is None for p in parts)


def test_concurrent_requests_share_one_forward_batch():
    emotion, embedder = fake_models()
    batcher = HostBatcher(ModelHost(emotion=emotion, embedder=embedder), BatchConfig(batch_wait_timeout_s=0.05))

    async def many():
        return await asyncio.gather(*(batcher.run([f"text {i}"]) for i in range(8)))

    results = asyncio.run(many())
    assert len(emotion.calls) == 1 and sorted(emotion.calls[0]) == sorted(f"text {i}" for i in range(8))
    assert all(r.probs.shape == (1, len(KeywordEmotion.labels)) for r in results)
    np.testing.assert_allclose(results[3].vectors, embedder.embed(["text 3"]))


def test_batch_knobs_change_live_and_the_queue_is_bounded():
    emotion, embedder = fake_models()
    batcher = HostBatcher(ModelHost(emotion=emotion, embedder=embedder))

    async def scenario():  # in one event loop, as in a replica: the batch queue lives in it
        assert batcher.batch_settings() == {"max_batch_size": 64, "batch_wait_timeout_s": 0.005}
        batcher.configure(ColocatedBatchConfig(max_batch_size=16, batch_wait_timeout_s=0.0, max_queued_texts=4))
        assert batcher.batch_settings() == {"max_batch_size": 16, "batch_wait_timeout_s": 0.0, "max_queued_texts": 4}
        first = asyncio.ensure_future(batcher.run(["a", "b", "c"]))
        await asyncio.sleep(0)  # the first request is queued now
        with pytest.raises(ServiceBusyError):
            await batcher.run(["d", "e"])
        return await first

    assert asyncio.run(scenario()).probs.shape == (3, len(KeywordEmotion.labels))
    assert batcher.queued_texts == 0


def test_long_requests_are_cut_into_chunks_and_reassembled_in_order():
    emotion, embedder = fake_models()
    models = ColocatedModels(HostBatcher(ModelHost(emotion=emotion, embedder=embedder)))
    texts = [("happy " if i % 3 == 0 else "furious ") + str(i) for i in range(40)]
    probs, vectors = asyncio.run(models.outputs(texts))
    np.testing.assert_allclose(probs, emotion.predict_proba(texts), rtol=1e-6)
    np.testing.assert_allclose(vectors, embedder.embed(texts), rtol=1e-6)


def test_online_classifier_computes_each_distinct_text_once(tmp_path):
    from inference.language import detector_version

    emotion, embedder = fake_models()
    models = ColocatedModels(HostBatcher(ModelHost(emotion=emotion, embedder=embedder)))
    online = OnlineClassifier(models, MemoryResultCache(100), fake_settings(tmp_path))
    first = asyncio.run(online.analyse(["raise taxes", "raise taxes", "hospital queue"]))
    asyncio.run(online.analyse(["raise taxes"]))
    assert emotion.calls == [["raise taxes", "hospital queue"]]  # duplicates and cache hits skipped
    assert [[t.key for t in a.result.topics] for a in first] == [["economy"], ["economy"], ["health"]]
    assert online.model_version == f"{emotion.version}+{embedder.version}+{detector_version()}"
