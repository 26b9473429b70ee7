"""Typed settings for the models and the classify pipeline (``configs/moodwire.yaml``).

One ``ModelSpec`` is shared by the online and the batch paths so both validate model
settings the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inference.config_files import load_config
from inference.language import COMMON_LANGUAGES, UND, is_language_code
from inference.loading import DEFAULT_EMOTION_MODEL, PACKAGED_MINILM
from inference.validation import DEFAULT_MAX_TEXT_CHARS


def project_configs_dir() -> Path:
    """``configs/`` of the source tree (editable installs, ``ray job`` working dirs)."""
    beside_code = Path(__file__).resolve().parents[1] / "configs"
    return beside_code if beside_code.is_dir() else Path.cwd() / "configs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    """How to load and run one transformer model."""

    source: str
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16", "int8"] = Field(
        default="auto", description="int8: dynamic quantisation, the CPU speed option"
    )
    runtime: Literal["auto", "torch", "onnxruntime"] = Field(
        default="auto",
        description="auto: onnxruntime (fused ONNX graph) on CPUs, torch on GPUs; int8 with onnxruntime is fastest",
    )
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads; default: all cores")
    max_tokens: int | None = Field(default=None, ge=8, description="window size; default: the model's limit")
    window_overlap: int = Field(default=32, ge=0)
    token_budget: int = Field(default=8192, ge=64, description="padded tokens per forward pass")
    max_batch_size: int = Field(default=64, ge=1, description="64 is fastest on CPUs; raise on GPUs")

    @model_validator(mode="after")
    def _overlap_fits(self) -> ModelSpec:
        if self.max_tokens is not None and self.window_overlap >= self.max_tokens - 2:
            raise ValueError(f"window_overlap ({self.window_overlap}) must be below max_tokens - 2")
        return self

    @model_validator(mode="after")
    def _runtime_fits(self) -> ModelSpec:
        if self.runtime == "onnxruntime":
            if self.device == "cuda":
                raise ValueError("runtime onnxruntime runs on CPUs only: use device cpu or auto, or runtime torch")
            if self.dtype in ("float16", "bfloat16"):
                raise ValueError(f"runtime onnxruntime takes dtype float32 or int8, not {self.dtype}")
        return self


class EmotionModelSpec(ModelSpec):
    source: str = DEFAULT_EMOTION_MODEL


class LocalEmbeddingSpec(ModelSpec):
    source: str = PACKAGED_MINILM
    max_tokens: int | None = Field(default=256, ge=8)


class OpenAIEmbeddingSettings(_Strict):
    model: str = "text-embedding-3-small"
    base_url: str | None = None
    dimensions: int | None = Field(default=None, ge=1)
    max_inputs_per_request: int = Field(default=2048, ge=1, le=2048)
    max_tokens_per_request: int = Field(default=300_000, ge=1)
    max_tokens_per_input: int = Field(default=8191, ge=16)
    max_retries: int = Field(default=5, ge=0)
    timeout_s: float = Field(default=60.0, gt=0)


class EmbeddingSettings(_Strict):
    backend: Literal["local", "openai"] = "local"
    local: LocalEmbeddingSpec = LocalEmbeddingSpec()
    openai: OpenAIEmbeddingSettings = OpenAIEmbeddingSettings()


class SentimentSettings(_Strict):
    """``head``: the emotion model's trained sentiment head, score = p(positive) - p(negative).
    ``valence``: derived from the emotion distribution, score = sum(valence * p), cut at the
    thresholds (for emotion checkpoints without a sentiment head)."""

    method: Literal["head", "valence"] = Field(
        default="head", description="head: the emotion model's sentiment head; valence: the emotion-valence rule"
    )
    valence: dict[str, float] = {
        "anger": -1.0,
        "disgust": -1.0,
        "fear": -1.0,
        "sadness": -1.0,
        "joy": 1.0,
        "surprise": 0.0,
        "neutral": 0.0,
    }
    positive_threshold: float = Field(default=0.3, gt=0, le=1)
    negative_threshold: float = Field(default=0.3, gt=0, le=1)

    @model_validator(mode="after")
    def _valence_range(self) -> SentimentSettings:
        for label, value in self.valence.items():
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"valence of '{label}' must be within [-1, 1], got {value}")
        return self


class PipelineSettings(_Strict):
    emotion: EmotionModelSpec = EmotionModelSpec()
    embedding: EmbeddingSettings = EmbeddingSettings()
    sentiment: SentimentSettings = SentimentSettings()
    topics_file: Path | None = Field(default=None, description="default: configs/topics.yaml")
    cache_size: int = Field(default=10_000, ge=0)
    max_text_chars: int = Field(default=DEFAULT_MAX_TEXT_CHARS, ge=1)
    detect_language: bool = Field(default=True, description="false: every result is 'und' (speed measurements)")
    supported_languages: list[str] = Field(
        default=["en"], min_length=1, description="ISO 639-1 codes the models are meant for; 'und' always is"
    )
    rollup_languages: Literal["supported", "all"] = Field(
        default="supported", description="supported: mentions in other languages stay out of topic rollups"
    )

    @field_validator("supported_languages")
    @classmethod
    def _language_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if code == UND:
                raise ValueError("'und' is always supported; list ISO 639-1 codes only")
            if not is_language_code(code):
                raise ValueError(f"{code!r} is not a lower-case ISO 639-1 code (two letters, such as 'en')")
            if code not in COMMON_LANGUAGES:
                raise ValueError(f"{code!r} is not a language the detector tells apart ({', '.join(COMMON_LANGUAGES)})")
        return list(dict.fromkeys(codes))

    def resolved_topics_file(self) -> Path:
        return self.topics_file or project_configs_dir() / "topics.yaml"


def load_pipeline_settings(path: Path | None = None) -> PipelineSettings:
    """Settings from ``path``, else ``configs/moodwire.yaml`` when present, else defaults."""
    if path is None:
        default = project_configs_dir() / "moodwire.yaml"
        if not default.is_file():
            return PipelineSettings()
        path = default
    return load_config(path, PipelineSettings)
