"""What a training run is asked to do (``TrainConfig``) and what it reports (``TrainReport``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inference.loading import PACKAGED_MINILM


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 2.0
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    max_length: int = 128
    evals_per_epoch: int = 2
    seed: int = 13
    threads: int | None = None
    limit: int | None = None
    base: str = PACKAGED_MINILM
    sentiment_weight: float = 1.0
    derived_sentiment_weight: float = 0.3
    init_from: str | None = None
    goemotions_fraction: float = 1.0
    interpolation_tolerance: float = 0.005


@dataclass(frozen=True)
class TrainReport:
    dev_macro_f1_raw: float
    dev_macro_f1: float
    per_label_f1: dict[str, float]
    logit_bias: list[float]
    steps: int
    seconds: float
    train_rows: int
    dev: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dev(
        cls,
        dev: dict[str, dict],
        bias: np.ndarray,
        *,
        steps: int,
        seconds: float,
        train_rows: int,
        sources: dict[str, int],
    ) -> TrainReport:
        """The report of per-dev-set figures ``dev`` (``training.evaluation.per_dev_report``),
        headlined by GoEmotions dev, with the tuned logit ``bias`` of every output."""
        main_dev = dev["goemotions_dev"]
        return cls(
            dev_macro_f1_raw=main_dev["macro_f1_raw"],
            dev_macro_f1=main_dev["macro_f1"],
            per_label_f1=main_dev["per_label_f1"],
            logit_bias=[round(float(b), 2) for b in bias],
            steps=steps,
            seconds=seconds,
            train_rows=train_rows,
            dev=dev,
            sources=sources,
        )
