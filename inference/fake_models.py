"""Fake models chosen in config (``source: fake``): placeholders behind the real interfaces.

``emotion: {source: fake}`` and ``embedding: {local: {source: fake}}`` in the pipeline
settings load these instead of transformers checkpoints, through the same loaders
(``EmotionClassifier.from_spec``, ``build_embedder``, ``classifier_labels_and_version``), so
every face (CLI, Serve, backfill, bench) can be exercised end to end with no weights, no
torch and no start-up time: tests of the plumbing, demos on a laptop, smoke tests of a
deployment. Numpy only; loading reads no file.

The outputs are deterministic and meant to be useful, not noise:
- the embedder sums a pseudo-random 384-dimensional vector per lower-cased, crudely stemmed
  word (drawn from the word's hash; function words left out) and L2-normalises, so texts
  sharing words are close and a zero-shot topic whose description shares words with a
  text scores it;
- the emotion model reads a small keyword lexicon (furious/angry -> anger and negative,
  happy/great -> joy and positive, ...) and adds a small tilt derived from the text's hash,
  so different texts get different numbers while the top labels follow the keywords.
Hashes are ``hashlib`` digests, never Python's salted ``hash()``: the same text gives the
same numbers in every process (Serve replicas, Ray Data actors, the CLI).

Results of a fake model are placeholders, not classifications; its ``model_version`` starts
with ``fake:`` so stored rows say so, and ``fake_models_warning`` is the line the faces print.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from inference.heads import SENTIMENT_OUTPUTS
from inference.interfaces import l2_normalise

if TYPE_CHECKING:
    from inference.schemas import EmotionResult
    from inference.settings import ModelSpec, PipelineSettings

FAKE_SOURCE = "fake"
FAKE_EMOTION_VERSION = "fake:emotion@1"
FAKE_EMBEDDING_VERSION = "fake:embedding@1"
FAKE_EMBEDDING_DIM = 384
# The default artifact's labels (builtin:ekman-minilm): 7 Ekman emotions, then the sentiment head.
FAKE_EMOTION_LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
FAKE_LABELS = (*FAKE_EMOTION_LABELS, *SENTIMENT_OUTPUTS)

# word -> (emotion, polarity: -1 negative, 0 none, +1 positive)
LEXICON: dict[str, tuple[str, int]] = {
    **dict.fromkeys(["furious", "angry", "outraged", "outrageous", "rage", "mad", "livid", "hate"], ("anger", -1)),
    **dict.fromkeys(["disgusting", "disgusted", "gross", "vile", "corrupt", "sickening"], ("disgust", -1)),
    **dict.fromkeys(["scared", "afraid", "terrified", "worried", "frightened", "anxious", "fear"], ("fear", -1)),
    **dict.fromkeys(["happy", "great", "glad", "love", "wonderful", "awesome", "excited", "relief"], ("joy", 1)),
    **dict.fromkeys(["thanks", "thank", "grateful", "delighted", "proud"], ("joy", 1)),
    **dict.fromkeys(["sad", "unhappy", "heartbroken", "grief", "crying", "miss", "lost", "depressed"], ("sadness", -1)),
    **dict.fromkeys(["wow", "surprised", "shocked", "unexpected", "whoa", "suddenly"], ("surprise", 0)),
}
# Sentiment without an emotion: complaints and praise that name no feeling.
POLARITY_WORDS: dict[str, int] = {
    **dict.fromkeys(["bad", "worst", "terrible", "awful", "broken", "delay", "delayed", "failed", "never"], -1),
    **dict.fromkeys(["good", "best", "excellent", "nice", "finally", "fixed", "saved"], 1),
}
KEYWORD_WEIGHT = 2.5  # logit added per keyword: one keyword outweighs the neutral prior and any tilt
NEUTRAL_PRIOR = 1.0  # logit of neutral (both heads) before keywords: a text without any is neutral
TILT = 0.3  # the hash-derived tilt lies in [-TILT, TILT]: below half the neutral prior's margin
# Function words carry no topic: leaving them out keeps "the hospital" close to "hospital".
_STOPWORD_TEXT = (
    "a an the and or but if of to in on at by for with from as into about over this that these those it its is are "
    "was were be been being am i me my we our you your he him his she her they them their there here not no so "
    "do does did have has had will would can could should just than then too very what which who whom article"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())  # "article": the topic views' template carries no topic
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits, any script
STEM_SUFFIXES = ("ing", "ed", "es", "s", "e")


def is_fake(source: str) -> bool:
    """Whether a configured model source names the fake model."""
    return source == FAKE_SOURCE


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters and digits, any script)."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A crude English stem ("taxes" -> "tax", "voted"/"vote" -> "vot"), so a topic phrase
    and a text that inflects it differently still share a feature."""
    if len(word) > 3:
        for suffix in STEM_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
    return word


def _digest(kind: str, token: str) -> bytes:
    return hashlib.blake2b(f"{kind}\x00{token}".encode(), digest_size=16).digest()


@functools.lru_cache(maxsize=65_536)
def _word_vector(token: str) -> np.ndarray:
    """A dense pseudo-random vector per word, from its SHAKE digest (random indexing): two
    different words are nearly orthogonal (cosine about +-0.05 at 384 dimensions), where
    bucket hashing would make an unlucky pair identical."""
    digest = hashlib.shake_256(f"embedding\x00{token}".encode()).digest(FAKE_EMBEDDING_DIM)
    vector = (np.frombuffer(digest, dtype=np.uint8).astype(np.float64) - 127.5) / 127.5
    vector.flags.writeable = False
    return vector


def _tilt(text: str, size: int) -> np.ndarray:
    """``size`` stable values in [-TILT, TILT] from the text's digest."""
    digest = np.frombuffer(_digest("emotion", text), dtype=np.uint8)[:size].astype(np.float32)
    return (digest / 255.0 * 2.0 - 1.0) * TILT


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


class FakeEmotionModel:
    """An ``EmotionScorer`` with the default model's labels: keyword lexicon plus a stable tilt,
    one softmax per head (emotions, then sentiment negative/neutral/positive)."""

    def __init__(self, spec: ModelSpec | None = None) -> None:
        """``spec`` is kept for callers that report it; its device, dtype and runtime are ignored."""
        self.spec = spec
        self.labels: list[str] = list(FAKE_LABELS)
        self.version = FAKE_EMOTION_VERSION

    def _row(self, text: str) -> np.ndarray:
        emotion = np.zeros(len(FAKE_EMOTION_LABELS), dtype=np.float64)
        sentiment = np.zeros(3, dtype=np.float64)  # negative, neutral, positive
        emotion[FAKE_EMOTION_LABELS.index("neutral")] = NEUTRAL_PRIOR
        sentiment[1] = NEUTRAL_PRIOR
        for word in words(text):
            if word in LEXICON:
                label, polarity = LEXICON[word]
                emotion[FAKE_EMOTION_LABELS.index(label)] += KEYWORD_WEIGHT
            else:
                polarity = POLARITY_WORDS.get(word, 0)
            if polarity:
                sentiment[1 + polarity] += KEYWORD_WEIGHT
        tilt = _tilt(text, len(FAKE_LABELS))
        emotion += tilt[: len(emotion)]
        sentiment += tilt[len(emotion) :]
        return np.concatenate([_softmax(emotion), _softmax(sentiment)])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 10)`` probabilities; each head's columns sum to 1. Row by row, so a
        text gets the same numbers alone or in any batch."""
        if not texts:
            return np.empty((0, len(self.labels)), dtype=np.float32)
        return np.vstack([self._row(text) for text in texts]).astype(np.float32)

    def to_results(self, probs: np.ndarray) -> list[EmotionResult]:
        from inference.postprocess import emotion_results

        return emotion_results(self.labels, probs)

    def classify(self, texts: Sequence[str]) -> list[EmotionResult]:
        return self.to_results(self.predict_proba(texts))


class FakeEmbedder:
    """A ``TextEmbedder`` of 384 dimensions: the sum of each word's hash-drawn vector
    (function words left out while a text has others), L2-normalised."""

    SPECIAL_TOKENS = 2  # what a BERT tokenizer adds to each text ([CLS], [SEP])

    def __init__(self, spec: ModelSpec | None = None) -> None:
        """``spec`` is kept for callers that report it; its device, dtype and runtime are ignored."""
        self.spec = spec
        self.dim = FAKE_EMBEDDING_DIM
        self.version = FAKE_EMBEDDING_VERSION

    def _row(self, text: str) -> np.ndarray:
        tokens = words(text)
        content = [stem(t) for t in tokens if t not in STOPWORDS] or tokens or [text.strip()]
        return np.sum([_word_vector(token) for token in content], axis=0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 384)`` float32 unit vectors."""
        return self.embed_counted(texts)[0]

    def embed_counted(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and each text's token count (its words plus two special tokens), as
        ``LocalEmbedder.embed_counted`` gives ``/v1/embeddings`` its usage."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32), np.zeros(0, dtype=np.int64)
        vectors = l2_normalise(np.vstack([self._row(text) for text in texts]))
        counts = np.array([len(words(text)) + self.SPECIAL_TOKENS for text in texts], dtype=np.int64)
        return vectors, counts


def load_fake_emotion(spec: ModelSpec | None = None) -> FakeEmotionModel:
    """The fake emotion model; instant (no file read, no torch)."""
    return FakeEmotionModel(spec)


def load_fake_embedder(spec: ModelSpec | None = None) -> FakeEmbedder:
    """The fake embedder; instant (no file read, no torch)."""
    return FakeEmbedder(spec)


def fake_sources(settings: PipelineSettings) -> list[str]:
    """Which models of ``settings`` are fake: ``"emotion"``, ``"embedding"``, both or none
    (an embedding ``local.source: fake`` counts only while ``backend`` is ``local``)."""
    fakes = []
    if is_fake(settings.emotion.source):
        fakes.append("emotion")
    if settings.embedding.backend == "local" and is_fake(settings.embedding.local.source):
        fakes.append("embedding")
    return fakes


def fake_models_warning(settings: PipelineSettings) -> str | None:
    """The one line a face prints (to stderr or its log) when any model is fake, else None:
    results of a fake model must never pass for classifications."""
    fakes = fake_sources(settings)
    if not fakes:
        return None
    return f"moodwire: warning: fake models in use ({', '.join(fakes)}): results are placeholders, not classifications"
