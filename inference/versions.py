"""Model version strings, known from configuration before any weights are loaded.

Stored mentions carry ``model_version``; the backfill compares it with these strings to
find mentions classified by older models, so they must match what loaded models report.
"""

from __future__ import annotations

from inference.device import precision_suffix
from inference.loading import classifier_labels_and_version
from inference.settings import EmbeddingSettings, ModelSpec, OpenAIEmbeddingSettings, PipelineSettings


def local_embedding_version(spec: ModelSpec) -> str:
    return spec.source + precision_suffix(spec.dtype, spec.runtime)


def openai_embedding_version(settings: OpenAIEmbeddingSettings) -> str:
    return f"openai:{settings.model}" + (f":{settings.dimensions}" if settings.dimensions else "")


def embedding_version(settings: EmbeddingSettings) -> str:
    if settings.backend == "openai":
        return openai_embedding_version(settings.openai)
    return local_embedding_version(settings.local)


def pipeline_model_version(settings: PipelineSettings) -> str:
    """``emotion version + embedding version``, as ``MentionPipeline.model_version``."""
    _, emotion_version = classifier_labels_and_version(settings.emotion.source)
    emotion_version += precision_suffix(settings.emotion.dtype, settings.emotion.runtime)
    return f"{emotion_version}+{embedding_version(settings.embedding)}"
