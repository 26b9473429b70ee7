"""``OnlineClassifier``: what the Gateway does with texts, without Ray or HTTP.

result cache -> models client (colocated host or model deployments) -> the shared
``PostProcessor``. The Gateway holds one; the unit tier builds one over fake models.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from inference.cache import content_hash
from inference.interfaces import ModelOutputs
from inference.postprocess import Analysis, PostProcessor
from inference.settings import PipelineSettings
from inference.versions import model_version
from serve_app.model_clients import ModelClient
from serve_app.model_host import ModelInfo


class _Vectors:
    """An embedder over precomputed vectors (topic prototypes are embedded by the models client)."""

    def __init__(self, texts: list[str], vectors: np.ndarray, version: str) -> None:
        self._rows = dict(zip(texts, vectors, strict=True))
        self.dim = vectors.shape[1]
        self.version = version

    def embed(self, texts):
        return np.vstack([self._rows[t] for t in texts])


class OnlineClassifier:
    def __init__(self, models: ModelClient, cache, settings: PipelineSettings, metrics=None) -> None:
        self.models = models
        self.cache = cache
        self.settings = settings
        self.metrics = metrics
        self.info: ModelInfo | None = None
        self.model_version: str | None = None
        self._postprocess: PostProcessor | None = None
        self._ready_lock = asyncio.Lock()

    async def ready(self) -> PostProcessor:
        """Ask the models for their labels and versions, embed the topic prototypes and load the
        language detector, once."""
        if self._postprocess is not None:
            return self._postprocess
        async with self._ready_lock:
            if self._postprocess is None:
                from inference.topics import load_topic_file, scoring_texts

                info = await self.models.info()
                topic_file = load_topic_file(self.settings.resolved_topics_file())
                views = sorted(set(scoring_texts(topic_file)))
                vectors = await self.models.embed(views)
                postprocess = await asyncio.to_thread(  # loads the language detector: ~1 s, off the loop
                    PostProcessor.from_settings,
                    self.settings,
                    labels=list(info.labels or ()),
                    embedder=_Vectors(views, vectors, info.embedding_version),
                    topic_file=topic_file,
                )
                self.info = info
                self.model_version = model_version(
                    info.emotion_version, info.embedding_version, postprocess.language_version
                )
                self._postprocess = postprocess
        return self._postprocess

    async def model_outputs(self, texts: Sequence[str], digests: Sequence[str] | None = None) -> list[ModelOutputs]:
        """Both models' outputs per text: cached ones from the result cache, the rest computed
        once per distinct text. ``digests``: the texts' SHA-256 when the caller has them."""
        await self.ready()
        hashes = digests if digests is not None else [content_hash(t) for t in texts]
        keys = [f"{self.model_version}:{digest}" for digest in hashes]
        found = await self.cache.get_many(keys)
        todo: dict[str, str] = {}
        for key, text, hit in zip(keys, texts, found, strict=True):
            if hit is None:
                todo.setdefault(key, text)
        hits = sum(1 for f in found if f is not None)
        if self.metrics is not None and hits:
            self.metrics.cache_hits.inc(hits)
        fresh: dict[str, ModelOutputs] = {}
        if todo:
            if self.metrics is not None:
                self.metrics.cache_misses.inc(len(texts) - hits)
            probs, vectors = await self.models.outputs(list(todo.values()))
            fresh = {key: ModelOutputs(emotion_probs=probs[i], embedding=vectors[i]) for i, key in enumerate(todo)}
            self.cache.put_many(fresh)
        return [hit if hit is not None else fresh[key] for key, hit in zip(keys, found, strict=True)]

    async def embeddings(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """Vectors of the embedding model alone and the inputs' token count (``/v1/embeddings``):
        no emotion pass, no second tokenisation. The result cache holds both models' outputs
        together, so this path neither reads nor fills it."""
        await self.ready()
        vectors, tokens = await self.models.embeddings(texts)
        return vectors, int(tokens.sum())

    async def analyse(self, texts: Sequence[str], digests: Sequence[str] | None = None) -> list[Analysis]:
        """Results for ``texts`` in order; ``digests`` as for ``model_outputs``."""
        postprocess = await self.ready()
        outputs = await self.model_outputs(texts, digests)
        return postprocess.analyses(
            texts,
            probs=np.vstack([o.emotion_probs for o in outputs]),
            vectors=np.vstack([o.embedding for o in outputs]),
        )
