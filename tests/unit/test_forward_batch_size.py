"""``forward_batch_size`` of a model spec (texts per forward pass), once ``max_batch_size``: the
old key still works with a warning that names the file, line and key to rename; both at once
are refused; Serve's ``max_batch_size`` (texts per Serve batch) is a different key and stays."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from inference.config_files import ConfigError
from inference.settings import DeprecatedKeyWarning, ModelSpec, PipelineSettings, load_pipeline_settings

ROOT = Path(__file__).resolve().parents[2]
OLD_KEYS = """\
emotion:
  source: fake
  max_batch_size: 16
embedding:
  local:
    max_batch_size: 8
"""


def test_the_new_key_is_read_with_no_warning(tmp_path):
    config = tmp_path / "moodwire.yaml"
    config.write_text("emotion:\n  forward_batch_size: 16\nembedding:\n  local: {forward_batch_size: 8}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecatedKeyWarning)
        settings = load_pipeline_settings(config)
    assert (settings.emotion.forward_batch_size, settings.embedding.local.forward_batch_size) == (16, 8)
    assert PipelineSettings().emotion.forward_batch_size == 64
    assert "max_batch_size" not in ModelSpec.model_fields and "forward pass" in str(
        ModelSpec.model_fields["forward_batch_size"].description
    )


def test_the_old_key_still_works_and_the_warning_points_at_it(tmp_path):
    config = tmp_path / "moodwire.yaml"
    config.write_text(OLD_KEYS, encoding="utf-8")
    with pytest.warns(DeprecatedKeyWarning) as caught:
        settings = load_pipeline_settings(config)
    assert (settings.emotion.forward_batch_size, settings.embedding.local.forward_batch_size) == (16, 8)
    messages = [str(w.message) for w in caught]
    assert messages == [
        "'emotion.max_batch_size' of a model spec is deprecated: use 'emotion.forward_batch_size' "
        "(texts per forward pass; Serve's 'max_batch_size' in configs/serve.yaml keeps its name)",
        "'embedding.local.max_batch_size' of a model spec is deprecated: use 'embedding.local.forward_batch_size' "
        "(texts per forward pass; Serve's 'max_batch_size' in configs/serve.yaml keeps its name)",
    ]
    assert [(w.filename, w.lineno) for w in caught] == [(str(config), 3), (str(config), 6)]  # file:line of each key
    assert issubclass(DeprecatedKeyWarning, FutureWarning)  # shown by default, unlike a DeprecationWarning


def test_the_old_key_in_code_warns_at_the_caller():
    with pytest.warns(DeprecatedKeyWarning, match=r"'emotion\.max_batch_size' .* use 'emotion\.forward_batch_size'"):
        settings = PipelineSettings(emotion={"max_batch_size": 4})
    assert settings.emotion.forward_batch_size == 4 and "max_batch_size" not in settings.emotion.model_dump()
    with pytest.warns(DeprecatedKeyWarning, match=r"^'max_batch_size' .* use 'forward_batch_size'") as caught:
        ModelSpec(source="x", max_batch_size=2)
    assert caught[0].filename == __file__


def test_both_keys_at_once_are_refused_naming_both(tmp_path):
    config = tmp_path / "moodwire.yaml"
    config.write_text("embedding:\n  local:\n    max_batch_size: 8\n    forward_batch_size: 16\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_pipeline_settings(config)
    message = str(raised.value)
    assert message.startswith(f"{config}: 'embedding.local'")
    assert "'embedding.local.max_batch_size' and 'embedding.local.forward_batch_size' both given" in message
    with pytest.raises(ValueError, match="keep 'forward_batch_size' only"):
        ModelSpec(source="x", max_batch_size=2, forward_batch_size=4)


def test_the_old_key_keeps_its_bounds(tmp_path):
    config = tmp_path / "moodwire.yaml"
    config.write_text("emotion:\n  max_batch_size: 0\n", encoding="utf-8")
    with pytest.warns(DeprecatedKeyWarning), pytest.raises(ConfigError, match=r"'emotion\.forward_batch_size'"):
        load_pipeline_settings(config)


def test_a_user_sees_the_warning_once_per_process(tmp_path):
    """Default warning filters: shown (a FutureWarning), once, however often the file is read."""
    config = tmp_path / "moodwire.yaml"
    config.write_text("emotion:\n  max_batch_size: 16\n", encoding="utf-8")
    code = (
        "from pathlib import Path\n"
        "from inference.settings import load_pipeline_settings\n"
        f"for _ in range(3): load_pipeline_settings(Path({str(config)!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stderr.count("'emotion.max_batch_size' of a model spec is deprecated") == 1
    assert f"{config}:2: DeprecatedKeyWarning" in done.stderr and "max_batch_size: 16" in done.stderr


@pytest.mark.parametrize("name", ["moodwire.yaml", "moodwire-int8.yaml"])
def test_shipped_settings_use_the_new_key(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecatedKeyWarning)
        load_pipeline_settings(ROOT / "configs" / name)


def test_the_forward_batch_size_caps_each_forward_pass(tiny_emotion):
    """It reaches the innermost batching: no forward pass holds more texts than it."""
    classifier = type(tiny_emotion)(
        tiny_emotion.model,
        tiny_emotion.tokenizer,
        tiny_emotion.spec.model_copy(update={"forward_batch_size": 3, "runtime": "torch"}),
        version="tiny@1",
    )
    sizes = []
    forward = classifier._forward
    classifier._forward = lambda ids, mask: sizes.append(len(ids)) or forward(ids, mask)
    classifier.predict_proba([f"text number {i}" for i in range(7)])
    assert sizes and max(sizes) <= 3 and sum(sizes) == 7
