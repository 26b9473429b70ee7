"""Language detection: the ``und`` rule, the restricted language list, the policy that decides
what the rollups count, the settings, and the detector's part of the model version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inference.language import (
    COMMON_LANGUAGES,
    UND,
    LanguageDetector,
    LanguagePolicy,
    detector_version,
    language_problem,
    language_text,
)

ROOT = Path(__file__).resolve().parents[2]
SPANISH_TWEET = "@MetroMadrid llevo media hora esperando en el andén, ¿qué pasa con la línea 5? 😡"
GERMAN_TWEET = "Schon wieder fällt der Zug nach Köln aus, danke für nichts #Bahnchaos https://example.com/x"


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector().load()


def test_tweets_in_other_languages_get_their_language(detector):
    assert detector.detect([SPANISH_TWEET, GERMAN_TWEET, "Prices at the grocery store keep going up"]) == [
        "es",
        "de",
        "en",
    ]


@pytest.mark.parametrize(
    "text",
    ["😂😂😂", "ok", "lol", "10/10", "#tbt", "@someone @another", "https://example.com/a/path", "hahahahahaha", ""],
)
def test_texts_without_enough_language_are_und(detector, text):
    assert detector.detect([text]) == [UND]


def test_unsure_detections_are_und(detector):
    language, probability = detector.scored("asdfghjkl qwertz")
    assert language == UND and 0 < probability < detector.min_confidence


def test_only_common_languages_come_back(detector):
    """Over py3langid's full label set, short nonsense comes back as Volapuk or Sesotho."""
    texts = ["vo vo vo vo vo vo", "xyzzy plugh", "Lorem ipsum dolor sit amet", "ka ka ka ke ke ko", "zxcvbnm"]
    assert set(detector.detect(texts)) <= set(COMMON_LANGUAGES) | {UND}


def test_urls_handles_hashtags_emoji_and_digits_carry_no_language():
    cleaned, letters, distinct = language_text("@anna 3 días 😂 en #Madrid https://t.co/x1 ¡genial!")
    assert cleaned == "días en ¡genial!" and letters == 12 and distinct == 9
    assert language_text("我今天很高兴")[1] == 18  # a wide character counts as several letters


def test_language_filters_accept_iso_codes_and_und_only():
    assert language_problem("es") is None and language_problem(UND) is None
    for bad in ("ES", "spanish", "e", "es-ES", ""):
        assert "ISO 639-1" in language_problem(bad)


def test_policy_supported_languages_and_und_count_in_rollups():
    policy = LanguagePolicy(supported=frozenset({"en"}))
    assert [policy.is_supported(x) for x in ("en", UND, None, "es", "de")] == [True, True, True, False, False]
    assert [policy.counts_in_rollups(x) for x in ("en", UND, None, "es")] == [True, True, True, False]
    everything = LanguagePolicy(supported=frozenset({"en"}), rollups="all")
    assert everything.counts_in_rollups("es") and not everything.is_supported("es")


def test_policy_comes_from_the_pipeline_settings():
    from inference.settings import PipelineSettings

    settings = PipelineSettings(supported_languages=["en", "es"], rollup_languages="all")
    assert LanguagePolicy.from_settings(settings) == LanguagePolicy(frozenset({"en", "es"}), "all")
    assert LanguagePolicy.from_settings(PipelineSettings()) == LanguagePolicy()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("supported_languages: [EN]", "'EN' is not a lower-case ISO 639-1 code"),
        ("supported_languages: [eng]", "'eng' is not a lower-case ISO 639-1 code"),
        ("supported_languages: [und]", "'und' is always supported"),
        ("supported_languages: [vo]", "'vo' is not a language the detector tells apart"),
        ("supported_languages: []", "at least 1 item"),
        ("rollup_languages: some", "'supported' or 'all'"),
        ("detect_language: maybe", "valid boolean"),
    ],
)
def test_bad_language_settings_name_the_key(tmp_path, yaml_text, message):
    from inference.config_files import ConfigError
    from inference.settings import load_pipeline_settings

    config = tmp_path / "moodwire.yaml"
    config.write_text(yaml_text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_pipeline_settings(config)
    key = yaml_text.split(":")[0]
    assert f"'{key}'" in str(info.value) and message in str(info.value)


def test_the_detector_version_is_part_of_the_model_version_only_when_detection_is_on():
    from inference.settings import PipelineSettings
    from inference.versions import language_version, model_version

    assert detector_version() == "lang:py3langid-0.4.0:r1"
    assert language_version(PipelineSettings()) == detector_version()
    assert language_version(PipelineSettings(detect_language=False)) is None
    assert model_version("emo@1", "packaged:all-MiniLM-L6-v2", detector_version()) == (
        "emo@1+packaged:all-MiniLM-L6-v2+lang:py3langid-0.4.0:r1"
    )
    assert model_version("emo@1", "packaged:all-MiniLM-L6-v2", None) == "emo@1+packaged:all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("emo@1+packaged:all-MiniLM-L6-v2", True),  # stored before detection
        ("emo@1+packaged:all-MiniLM-L6-v2+lang:py3langid-0.4.0:r1", True),
        ("emo@1+packaged:all-MiniLM-L6-v2+lang:py3langid-0.5.0:r2", True),
        ("emo@1+packaged:all-MiniLM-L6-v2:ort-int8+lang:py3langid-0.4.0:r1", False),  # another embedding
        ("emo@1+openai:text-embedding-3-small+lang:py3langid-0.4.0:r1", False),
        ("packaged:all-MiniLM-L6-v2", False),
        (None, False),
    ],
)
def test_embedded_by_reads_the_embedding_part_exactly(stored, expected):
    from inference.versions import embedded_by

    assert embedded_by(stored, "packaged:all-MiniLM-L6-v2") is expected


def test_reprocessing_selects_versions_without_or_with_another_detector():
    from batch_jobs.db_source import Selection

    current = f"emo@1+emb+{detector_version()}"
    compiled = str(Selection("model_changed", current).condition().compile(compile_kwargs={"literal_binds": True}))
    assert f"model_version != '{current}'" in compiled  # 'emo@1+emb' and other detectors differ from it


def test_with_detection_off_every_result_is_und_and_supported(tmp_path):
    import numpy as np

    from inference.postprocess import PostProcessor
    from tests.unit.fakes import fake_models, fake_settings

    emotion, embedder = fake_models()
    settings = fake_settings(tmp_path).model_copy(update={"detect_language": False})
    post = PostProcessor.from_settings(settings, labels=emotion.labels, embedder=embedder)
    texts = [SPANISH_TWEET, "raise taxes"]
    analyses = post.analyses(texts, probs=emotion.predict_proba(texts), vectors=embedder.embed(texts))
    assert [(a.result.language, a.result.language_supported) for a in analyses] == [(UND, True), (UND, True)]
    assert post.language_version is None
    assert np.allclose(analyses[1].embedding, embedder.embed(["raise taxes"])[0])


def test_our_language_check_scores_high():
    from training.quality import language_accuracy, language_accuracy_per_language

    assert language_accuracy() >= 0.95
    assert min(language_accuracy_per_language().values()) >= 0.9


def test_the_detector_loads_only_when_used():
    statement = "import inference.language, inference.postprocess, inference.versions, storage.service"
    check = f"import sys; {statement}; print('py3langid' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"
