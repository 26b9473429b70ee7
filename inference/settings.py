"""Typed settings for the models and the classify pipeline (``configs/moodwire.yaml``).

One ``ModelSpec`` is shared by the online and the batch paths so both validate model
settings the same way.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from inference.config_files import (
    SETTINGS_FILE,
    load_settings,
    project_configs_dir,
)
from inference.fake_models import FAKE_SOURCE
from inference.language import COMMON_LANGUAGES, UND, is_language_code
from inference.loading import DEFAULT_EMOTION_MODEL, PACKAGED_MINILM
from inference.validation import DEFAULT_MAX_TEXT_CHARS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


SOURCE_HELP = (
    "builtin:NAME (an artifact shipped with moodwire), packaged:all-MiniLM-L6-v2, a local folder, a hub id, "
    f"or {FAKE_SOURCE} (placeholder models for tests and demos: no weights, results are not classifications)"
)


class DeprecatedKeyWarning(FutureWarning):
    """A settings key was renamed; the old one still works. A FutureWarning, not a
    DeprecationWarning: those are hidden by default, and this one is meant for users."""


_RENAMED_KEYS = {"max_batch_size": "forward_batch_size"}
_WARNED: dict = {}  # the warnings registry of renamed keys: each file and key is warned about once


def _key_line(path: str, dotted: str) -> int:
    """1-based line of a dotted key in a YAML file; 0 when it cannot be found."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return 0
    line = 0
    for part in dotted.split("."):
        if not isinstance(node, yaml.MappingNode):
            return 0
        found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
        if found is None:
            return 0
        line, node = found[0].start_mark.line + 1, found[1]
    return line


def _warn_renamed(old: str, new: str, settings_file: str | None) -> None:
    """Warn at the key's own line of the settings file (shown as ``file:line``), or at the
    caller when the settings come from code."""
    message = (
        f"'{old}' of a model spec is deprecated: use '{new}' (texts per forward pass; "
        "Serve's 'max_batch_size' in configs/serve.yaml keeps its name)"
    )
    if settings_file is None:
        warnings.warn(message, DeprecatedKeyWarning, stacklevel=4)
        return
    line = _key_line(settings_file, old)
    warnings.warn_explicit(
        message, DeprecatedKeyWarning, settings_file, line, module="inference.settings", registry=_WARNED
    )


class ModelSpec(_Strict):
    """How to load and run one transformer model."""

    config_key: ClassVar[str] = ""  # where the spec sits in the settings file ("emotion.")

    source: str = Field(description=SOURCE_HELP)
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
    forward_batch_size: int = Field(
        default=64, ge=1, description="texts per forward pass; 64 is fastest on CPUs, raise on GPUs"
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any, info: ValidationInfo) -> Any:
        """``max_batch_size`` was this spec's name for texts per forward pass, easily taken
        for Serve's ``max_batch_size`` (texts per Serve batch): it still works, with a warning
        naming the file and the key to rename; given beside its new name, it is refused."""
        if not isinstance(data, dict):
            return data
        for old, new in _RENAMED_KEYS.items():
            if old not in data:
                continue
            if new in data:
                raise ValueError(
                    f"'{cls.config_key}{old}' and '{cls.config_key}{new}' both given: "
                    f"'{old}' is the deprecated name of '{new}' (texts per forward pass); keep '{new}' only"
                )
            data = {new if key == old else key: value for key, value in data.items()}
            _warn_renamed(cls.config_key + old, cls.config_key + new, (info.context or {}).get(SETTINGS_FILE))
        return data

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
    config_key: ClassVar[str] = "emotion."

    source: str = Field(default=DEFAULT_EMOTION_MODEL, description=SOURCE_HELP)


class LocalEmbeddingSpec(ModelSpec):
    config_key: ClassVar[str] = "embedding.local."

    source: str = Field(default=PACKAGED_MINILM, description=SOURCE_HELP)
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
    """Settings from ``path``, else ``configs/moodwire.yaml`` when present, else defaults;
    a deprecated key's warning names the file."""
    return load_settings(PipelineSettings, path, default_name="moodwire.yaml")
