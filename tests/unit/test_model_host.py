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


def fake_model_settings():
    """Pipeline settings choosing the fake models (``source: fake``), device and precision
    options included to show that they are ignored."""
    from inference.settings import PipelineSettings

    return PipelineSettings(
        emotion={"source": "fake", "dtype": "int8", "runtime": "onnxruntime"},
        embedding={"local": {"source": "fake", "dtype": "int8"}},
    )


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
    HostBatcher._embedding_batch.set_max_batch_size.__self__._queue = None


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
    assert out.tokens.tolist() == [4, 3]  # no tokenizer: estimated from characters
    only = host.compute(["abcd efgh"], embedding_only=True)
    assert (
        only.probs is None and only.vectors.shape == (1, embedder.dim) and [m for m, _, _ in seen[-1:]] == ["embedding"]
    )

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


def test_hosts_load_the_models_the_settings_choose():
    """``ModelHost.load`` through the real loaders, with settings choosing the fake models: the
    host of each layout reports the versions the settings predict without loading anything."""
    from inference.fake_models import FAKE_EMBEDDING_DIM, FAKE_LABELS
    from inference.versions import embedding_version, emotion_version

    settings = fake_model_settings()
    host = ModelHost.load(settings, cpus=0.5)
    info = host.info()
    expected = (
        FAKE_LABELS,
        emotion_version(settings.emotion),
        FAKE_EMBEDDING_DIM,
        embedding_version(settings.embedding),
    )
    assert info == ModelInfo(*expected) and info.model_version == "fake:emotion@1+fake:embedding@1"
    assert host.emotion.spec.threads == 1 and host.embedder.spec.threads == 1  # the replica's CPUs
    out = host.compute(["I am furious", "vote today!"])
    assert out.probs.shape == (2, len(FAKE_LABELS)) and out.vectors.shape == (2, FAKE_EMBEDDING_DIM)
    assert out.tokens.tolist() == [5, 4]  # the embedder's own count: words plus two special tokens
    emotion_host, embedding_host = ModelHost.load(settings, embedding=False), ModelHost.load(settings, emotion=False)
    assert emotion_host.embedder is None and embedding_host.emotion is None
    assert emotion_host.info().merged(embedding_host.info()) == info  # the deployments layout


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
    host = ModelHost.load(fake_model_settings())
    models = ColocatedModels(HostBatcher(host))
    texts = [("happy " if i % 3 == 0 else "furious ") + str(i) for i in range(40)]
    probs, vectors = asyncio.run(models.outputs(texts))
    np.testing.assert_allclose(probs, host.emotion.predict_proba(texts), rtol=1e-6)
    np.testing.assert_allclose(vectors, host.embedder.embed(texts), rtol=1e-6)
    emotions = [host.emotion.labels[i] for i in probs[:, :7].argmax(axis=1)]  # the 7 emotion columns
    assert emotions == ["joy" if i % 3 == 0 else "anger" for i in range(40)]  # each row in its place


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


def test_embeddings_run_the_embedder_alone_in_shared_batches_with_its_token_counts(tmp_path):
    """``/v1/embeddings``: concurrent requests share one batch of the embedding lane, the
    emotion model never runs, and usage comes back with the vectors."""
    emotion, embedder = fake_models()
    batches = []
    host = ModelHost(emotion=emotion, embedder=embedder, observe=lambda model, n, _: batches.append((model, n)))
    models = ColocatedModels(HostBatcher(host, ColocatedBatchConfig(batch_wait_timeout_s=0.05)))
    online = OnlineClassifier(models, MemoryResultCache(100), fake_settings(tmp_path))
    asyncio.run(online.ready())
    batches.clear()

    async def many():
        return await asyncio.gather(*(online.embeddings([f"vote number {i}"]) for i in range(6)))

    results = asyncio.run(many())
    assert emotion.calls == [] and batches == [("embedding", 6)]
    assert [tokens for _, tokens in results] == [len(f"vote number {i}") // 4 + 1 for i in range(6)]
    np.testing.assert_allclose(results[2][0], embedder.embed(["vote number 2"]))


class SlowOnLongTexts(ModelHost):
    """A host whose batches take 0.3 s when they hold a long text (its windows), else none."""

    def compute(self, texts, *, embedding_only=False):
        import time

        if any(len(t) > 4000 for t in texts):
            time.sleep(0.3)
        return super().compute(texts, embedding_only=embedding_only)


def test_long_texts_take_their_own_lane_in_order_and_never_hold_up_short_ones():
    emotion, embedder = fake_models()
    host = SlowOnLongTexts(emotion=emotion, embedder=embedder)
    batcher = HostBatcher(host, BatchConfig(batch_wait_timeout_s=0.01))
    article = "raise taxes " * 400  # 4,800 characters
    mixed = ["vote today", article, "hospital queue", article + "!", "raise taxes"]

    async def scenario():
        import time

        started = time.perf_counter()
        long_request = asyncio.ensure_future(batcher.run(mixed))
        await asyncio.sleep(0.02)  # the long texts are computing now
        short = await batcher.run(["vote today"])
        short_s = time.perf_counter() - started
        together = await long_request
        batcher.configure(BatchConfig(long_text_chars=0))  # off: one lane, the same answer
        return together, short, short_s, await batcher.run(mixed)

    together, short, short_s, one_lane = asyncio.run(scenario())  # one loop: the batch queue is bound to it
    assert short_s < 0.25  # answered while the article was still computing (0.3 s)
    reference = ModelHost(emotion=emotion, embedder=embedder).compute(mixed)
    np.testing.assert_array_equal(together.probs, reference.probs)  # same rows, same order
    np.testing.assert_array_equal(together.vectors, reference.vectors)
    np.testing.assert_array_equal(short.probs, reference.probs[:1])
    np.testing.assert_array_equal(one_lane.probs, reference.probs)


@pytest.mark.slow  # loads the real default models
def test_with_the_real_models_a_long_text_in_its_lane_matches_the_core():
    """An article of about 14,000 characters through the long lane, beside tweets in the batch
    lane: each text's outputs equal the core models' on that text alone."""
    from inference.settings import load_pipeline_settings
    from moodwire.bench.texts import generate_texts

    settings = load_pipeline_settings()
    host = ModelHost.load(settings, cpus=1)
    article = max(generate_texts(200), key=len)
    texts = ["Gas prices are killing us", article, "Thank you nurses, you saved my dad"]
    assert len(article) > 10_000

    async def both():
        return await HostBatcher(host).run(texts)

    got = asyncio.run(both())
    for i, text in enumerate(texts):
        alone = host.compute([text])
        np.testing.assert_allclose(got.probs[i], alone.probs[0], atol=1e-5)
        np.testing.assert_allclose(got.vectors[i], alone.vectors[0], atol=1e-5)


def test_a_persisted_text_is_hashed_once_the_cache_keys_by_the_storage_hash(tmp_path, monkeypatch):
    """With ``persist`` the request's validation already computed each text's SHA-256 for
    its storage key; the result cache reuses it instead of hashing the text again."""
    from datetime import UTC, datetime

    import serve_app.online
    from serve_app.requests import validate_classify
    from serve_app.schemas import ClassifyRequest
    from storage.records import RecordRules

    body = ClassifyRequest(items=[{"text": "raise taxes", "external_id": "a"}, {"text": "hospital"}], persist=True)
    job = validate_classify(body, rules=RecordRules.default(), max_texts=10, now=datetime.now(UTC))
    assert job.digests == [p.content_hash for p in job.prepared]
    emotion, embedder = fake_models()
    seen_keys: list[str] = []
    cache = MemoryResultCache(100)
    real_get = cache.get_many

    async def recording(keys):
        seen_keys.extend(keys)
        return await real_get(keys)

    cache.get_many = recording
    online = OnlineClassifier(
        ColocatedModels(HostBatcher(ModelHost(emotion=emotion, embedder=embedder))), cache, fake_settings(tmp_path)
    )
    asyncio.run(online.ready())
    monkeypatch.setattr(serve_app.online, "content_hash", lambda text: pytest.fail("hashed a second time"))
    analyses = asyncio.run(online.analyse(job.texts, digests=job.digests))
    assert len(analyses) == 2
    assert seen_keys == [f"{online.model_version}:{digest}" for digest in job.digests]
