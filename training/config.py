"""What a training run is asked to do (``TrainConfig``): ``moodwire train-emotion``'s flags."""

from __future__ import annotations

from dataclasses import dataclass

from inference.loading import PACKAGED_MINILM


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 5.0
    batch_size: int = 32
    learning_rate: float = 1e-4  # the tower's layers
    head_learning_rate: float = 1e-3  # the output layer
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    max_length: int = 128  # tokens per training text (serving windows are the embedding's 256)
    evals_per_epoch: int = 2
    seed: int = 13
    threads: int | None = None
    limit: int | None = None
    base: str = PACKAGED_MINILM
    sentiment_weight: float = 1.0
    derived_sentiment_weight: float = 0.3
    tweet_emotion_weight: float = 1.0  # emotion targets of tweets (SemEval, TweetEval emotion), GoEmotions' are 1
    tune_fraction: float = 0.1
    shared_layers: int = 4
