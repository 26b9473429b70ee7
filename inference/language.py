"""A text's language (ISO 639-1, or ``und`` when unsure) and which languages count in rollups.

The detector is py3langid, a naive Bayes classifier over byte n-grams whose model ships
inside the package (nothing is downloaded). It is imported and loaded on first use only
(about 1 s and 50 MB per process; then about 0.15 ms per tweet here, cleaning included),
so this module stays on the light floor. Three rules keep it honest on short social-media
texts:

- It chooses among ``COMMON_LANGUAGES`` only. Over its full 140 labels, short texts and
  emoji strings come back as Volapuk (``vo``), Sesotho or Serbian, and minor neighbours
  (Galician, Catalan, Aragonese, Frisian, Afrikaans...) split the probability of short
  texts in the big languages: our check falls from 0.985 to 0.949, every extra miss ``und``.
- URLs, @handles, #hashtags, emoji, digits and symbols are removed first: they carry no
  language, and URLs and hashtags lean English. Fewer than ``MIN_LETTERS`` letters left
  (a wide CJK character counts as ``WIDE_LETTER_WEIGHT``: one carries about a word), or
  fewer than ``MIN_DISTINCT_LETTERS`` distinct ones (hahaha, jajaja, kkkk: py3langid calls
  a long "hahaha" Tagalog), means ``und``: "ok", "lol", "😂😂" and "10/10" have no language
  to speak of.
- py3langid's normalised probability (a softmax tempered by the text's length) below
  ``MIN_CONFIDENCE`` means ``und``: keyboard mashing scores 0.3 to 0.4, our short tweets
  in the seven checked languages mostly above 0.6 (``training/checks/languages.tsv``).

Erring towards ``und`` is the safe side for the default ``supported_languages: [en]``: an
English mention called ``und`` still counts, one called Tagalog would drop out.

``RULE_REVISION`` and py3langid's version form ``detector_version``, a part of every stored
mention's ``model_version`` (``inference.versions``): changing the list or a threshold
makes ``db:all --model-changed`` re-detect stored mentions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Literal

from inference.schemas import UNDETERMINED_LANGUAGE

if TYPE_CHECKING:
    from inference.settings import PipelineSettings

UND = UNDETERMINED_LANGUAGE
DETECTOR_PACKAGE = "py3langid"
VERSION_PREFIX = "lang:"  # how the detector's part of a model version starts
RULE_REVISION = 1  # bump with any change to the rule: the list, the thresholds, the cleaning

# Widely used languages of news and social media; py3langid labels, all ISO 639-1.
COMMON_LANGUAGES: tuple[str, ...] = (
    # Latin script
    "en", "es", "pt", "fr", "de", "it", "nl", "sv", "da", "no", "fi", "pl", "cs", "ro", "hu",
    "tr", "id", "vi", "tl",
    # Cyrillic, Greek
    "ru", "uk", "bg", "el",
    # Arabic, Hebrew
    "ar", "fa", "ur", "he",
    # South and South-East Asian scripts
    "hi", "bn", "ta", "th",
    # CJK
    "zh", "ja", "ko",
)  # fmt: skip
MIN_LETTERS = 8
MIN_DISTINCT_LETTERS = 4
WIDE_LETTER_WEIGHT = 3
MIN_CONFIDENCE = 0.5

_NO_LANGUAGE = re.compile(r"(?:https?://|www\.)\S+|[@#]\w+", re.IGNORECASE)
_CODE = re.compile(r"[a-z]{2}")


def is_language_code(value: object) -> bool:
    """A lower-case two-letter ISO 639-1 code (``und`` is not one)."""
    return isinstance(value, str) and _CODE.fullmatch(value) is not None


def language_problem(value: str) -> str | None:
    """Why ``value`` is not a language a caller may ask for (ISO 639-1 or ``und``), or None."""
    if value == UND or is_language_code(value):
        return None
    return f"language must be a lower-case ISO 639-1 code such as 'en', or 'und', got {value!r}"


def detector_version() -> str:
    """The detector's part of a mention's model version, read without importing py3langid."""
    return f"{VERSION_PREFIX}{DETECTOR_PACKAGE}-{metadata.version(DETECTOR_PACKAGE)}:r{RULE_REVISION}"


def language_text(text: str) -> tuple[str, int, int]:
    """``text`` without URLs, handles, hashtags, emoji, digits and symbols; its letter weight;
    and how many distinct letters it has."""
    kept, letters, distinct = [], 0, set()
    for char in _NO_LANGUAGE.sub(" ", text):
        kind = unicodedata.category(char)[0]
        if kind == "L":
            letters += WIDE_LETTER_WEIGHT if unicodedata.east_asian_width(char) in ("W", "F") else 1
            distinct.add(char.lower())
            kept.append(char)
        elif kind in ("M", "P"):
            kept.append(char)
        else:  # separators, digits, symbols (emoji), controls (zero-width joiners)
            kept.append(" ")
    return " ".join("".join(kept).split()), letters, len(distinct)


@cache
def _identifier(languages: tuple[str, ...]):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages))
    return identifier


class LanguageDetector:
    """``detect(texts)`` -> one ISO 639-1 code or ``und`` per text."""

    def __init__(
        self,
        *,
        languages: Sequence[str] = COMMON_LANGUAGES,
        min_letters: int = MIN_LETTERS,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        self.languages = tuple(sorted(set(languages)))
        self.min_letters = min_letters
        self.min_confidence = min_confidence
        self.version = detector_version()

    def load(self) -> LanguageDetector:
        """Load the model now (once per process), not inside the first request."""
        _identifier(self.languages)
        return self

    def scored(self, text: str) -> tuple[str, float]:
        """``(language, probability)``; ``und`` with 0.0 when too few letters are left."""
        cleaned, letters, distinct = language_text(text)
        if letters < self.min_letters or distinct < MIN_DISTINCT_LETTERS:
            return UND, 0.0
        language, probability = _identifier(self.languages).classify(cleaned)
        return (language if probability >= self.min_confidence else UND), probability

    def detect(self, texts: Iterable[str]) -> list[str]:
        return [self.scored(text)[0] for text in texts]


@dataclass(frozen=True, slots=True)
class LanguagePolicy:
    """Which languages are supported and which mentions topic rollups count.

    ``und`` is always supported: short and emoji-only mentions must not vanish from the
    counts. A stored mention without a language (classified before detection) counts as
    supported until it is re-processed.
    """

    supported: frozenset[str] = frozenset({"en"})
    rollups: Literal["supported", "all"] = "supported"

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> LanguagePolicy:
        return cls(supported=frozenset(settings.supported_languages), rollups=settings.rollup_languages)

    def is_supported(self, language: str | None) -> bool:
        return language is None or language == UND or language in self.supported

    def counts_in_rollups(self, language: str | None) -> bool:
        return self.rollups == "all" or self.is_supported(language)
