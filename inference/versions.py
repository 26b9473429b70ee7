"""Model version strings, known from configuration before any weights are loaded.

Stored mentions carry ``model_version``; the backfill compares it with these strings to
find mentions classified by older models, so they must match what loaded models report.
"""

from __future__ import annotations

from inference.fake_models import FAKE_EMBEDDING_VERSION, FAKE_EMOTION_VERSION, is_fake
from inference.language import VERSION_PREFIX, detector_version
from inference.loading import classifier_labels_and_version
from inference.settings import EmbeddingSettings, ModelSpec, OpenAIEmbeddingSettings, PipelineSettings

VERSION_SEPARATOR = "+"


def model_version(emotion_version: str, embedding_version: str, language_version: str | None = None) -> str:
    """The one composition of a mention's ``model_version``: both models' versions, then the
    language detector's when detection is on (``emotion+embedding+lang:py3langid-0.4.0:r1``).

    The supported languages are not part of it: whether a language is supported is decided
    from the stored language under the current settings, so changing the list re-processes
    nothing (``moodwire db rebuild-rollups`` recounts the rollups).
    """
    parts = [emotion_version, embedding_version] + ([language_version] if language_version else [])
    return VERSION_SEPARATOR.join(parts)


def models_part(stored_model_version: str | None) -> str:
    """A stored ``model_version`` without the language detector's part."""
    stored = stored_model_version or ""
    head, separator, _ = stored.rpartition(VERSION_SEPARATOR + VERSION_PREFIX)
    return head if separator else stored


def embedded_by(stored_model_version: str | None, embedding_version: str) -> bool:
    """Whether a stored ``model_version`` used this embedding model (its vectors compare),
    whether or not its language was detected."""
    return models_part(stored_model_version).endswith(VERSION_SEPARATOR + embedding_version)


def language_version(settings: PipelineSettings) -> str | None:
    """The language detector's part of the model version; None when detection is off."""
    return detector_version() if settings.detect_language else None


def precision_suffix(spec_dtype: str, runtime: str = "torch") -> str:
    """Part of a model version: results of a quantised model differ slightly from fp32.

    ONNX Runtime in fp32 matches torch to 1e-6, so it shares the fp32 version. int8 always
    runs on a CPU, where ``auto`` means ONNX Runtime (``inference.device.resolve_runtime``),
    so a CPU-only driver and a GPU node agree on the string.
    """
    if spec_dtype != "int8":
        return ""
    return ":ort-int8" if runtime in ("auto", "onnxruntime") else ":int8"


def local_embedding_version(spec: ModelSpec) -> str:
    """What a loaded local embedder of ``spec`` reports; the fake one ignores dtype and runtime."""
    if is_fake(spec.source):
        return FAKE_EMBEDDING_VERSION
    return spec.source + precision_suffix(spec.dtype, spec.runtime)


def openai_embedding_version(settings: OpenAIEmbeddingSettings) -> str:
    return f"openai:{settings.model}" + (f":{settings.dimensions}" if settings.dimensions else "")


def embedding_version(settings: EmbeddingSettings) -> str:
    if settings.backend == "openai":
        return openai_embedding_version(settings.openai)
    return local_embedding_version(settings.local)


def emotion_version(spec: ModelSpec) -> str:
    """What a loaded ``EmotionClassifier`` of ``spec`` reports, read from its config alone
    (the fake model's is fixed: it ignores dtype and runtime)."""
    if is_fake(spec.source):
        return FAKE_EMOTION_VERSION
    _, version = classifier_labels_and_version(spec.source)
    return version + precision_suffix(spec.dtype, spec.runtime)


def pipeline_model_version(settings: PipelineSettings) -> str:
    """``emotion version + embedding version [+ detector version]``, as ``MentionPipeline.model_version``."""
    return model_version(
        emotion_version(settings.emotion), embedding_version(settings.embedding), language_version(settings)
    )
