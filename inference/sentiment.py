"""Sentiment derived from the emotion distribution.

GoEmotions' sentiment groups are a fixed function of its emotions (positive = joy's
sub-emotions, negative = anger/disgust/fear/sadness's, ambiguous = surprise's), so a
separate sentiment head trained on the group taxonomy would learn the same mapping. The
score is the valence-weighted sum of the emotion probabilities, in [-1, 1]; the label
cuts it at configurable thresholds.
"""

from __future__ import annotations

import numpy as np

from inference.schemas import SentimentResult
from inference.settings import SentimentSettings


class SentimentRule:
    def __init__(self, settings: SentimentSettings, labels: list[str]) -> None:
        self.settings = settings
        self.valence = np.array([settings.valence.get(label, 0.0) for label in labels], dtype=np.float32)

    def scores(self, emotion_probs: np.ndarray) -> np.ndarray:
        weights = emotion_probs / np.maximum(emotion_probs.sum(axis=1, keepdims=True), 1e-12)
        return np.clip(weights @ self.valence, -1.0, 1.0)

    def label(self, score: float) -> str:
        if score >= self.settings.positive_threshold:
            return "positive"
        if score <= -self.settings.negative_threshold:
            return "negative"
        return "neutral"

    def results(self, emotion_probs: np.ndarray) -> list[SentimentResult]:
        return [
            SentimentResult(label=self.label(float(s)), score=round(float(s), 6)) for s in self.scores(emotion_probs)
        ]
