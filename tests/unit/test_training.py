"""``moodwire train-emotion`` on a tiny synthetic GoEmotions-format folder: a tower artifact."""

import json
import math

import numpy as np
import pytest

from inference.emotion import EmotionClassifier
from inference.loading import ArtifactManifest
from inference.settings import ModelSpec
from moodwire.cli import main
from training.evaluation import tune_logit_bias
from training.goemotions import read_split

JOY = ["I love this so much", "what a wonderful day", "this made me so happy", "great news, thank you"]
ANGER = ["I am furious about this", "this makes me so angry", "I hate this stupid rule", "how dare they do this"]


pytestmark = pytest.mark.slow  # loads the real default models


def write_dataset(folder):
    """Distinct training texts (repeats would train once) and dev texts that are not among them."""
    folder.mkdir()
    (folder / "labels.txt").write_text("anger\njoy\n", encoding="utf-8")
    rows = [f"{t}, day {n}\t1\tj{i}{n}" for n in range(4) for i, t in enumerate(JOY)]
    rows += [f"{t}, day {n}\t0\ta{i}{n}" for n in range(4) for i, t in enumerate(ANGER)]
    rows.append("I love it and I hate it\t0,1\tmixed")
    (folder / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    dev = [f"{t}\t1\tdj{i}" for i, t in enumerate(JOY)] + [f"{t}\t0\tda{i}" for i, t in enumerate(ANGER)]
    (folder / "dev.tsv").write_text("\n".join(dev) + "\n", encoding="utf-8")


def test_train_emotion_writes_a_small_loadable_artifact(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "artifact"
    write_dataset(data)
    assert read_split(data, "train").labels[-1] == [0, 1]
    code = main(
        [
            "train-emotion",
            "--data",
            str(data),
            "--out",
            str(out),
            "--epochs",
            "3",
            "--batch-size",
            "8",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == math.ceil(report["train_rows"] / 8) * 3
    assert report["train_rows"] + report["tune"]["goemotions_tune"]["rows"] == 33  # every row trains or tunes
    assert set(report["dev"]["goemotions_dev"]["per_label_f1"]) == {"anger", "joy"}
    assert "calibration_error" in report["dev"]["goemotions_dev"]
    size = sum(p.stat().st_size for p in out.iterdir())
    assert size < 8 * 1024 * 1024  # two layers and the head, in half precision
    manifest = ArtifactManifest.read(out)
    assert manifest.labels == ["anger", "joy"] and manifest.base == "packaged:all-MiniLM-L6-v2"
    assert manifest.extra is not None and manifest.extra["shared_layers"] == 4
    assert manifest.version.endswith(report["version"][-8:]) and len(report["version"].rsplit("-", 1)[1]) == 8

    classifier = EmotionClassifier.from_spec(ModelSpec(source=str(out), threads=1, runtime="torch"))
    assert classifier.labels == ["anger", "joy"]
    probs = classifier.predict_proba(["what a wonderful day", "I am furious about this"])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_bad_data_folder_exits_2(tmp_path, capsys):
    code = main(["train-emotion", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert code == 2 and "not a folder" in capsys.readouterr().err
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "labels.txt").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "d" / "train.tsv").write_text("text\t7\tid\n", encoding="utf-8")
    code = main(["train-emotion", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o")])
    assert code == 2 and "train.tsv:1: label ids '7' outside 0..1" in capsys.readouterr().err
    code = main(
        ["train-emotion", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o"), "--sentiment-weight", "-1"]
    )
    assert code == 2 and "--sentiment-weight must be at least 0, got -1.0" in capsys.readouterr().err


def test_logit_bias_tuning_rescues_an_under_predicted_label():
    rng = np.random.default_rng(0)
    gold = [[0]] * 80 + [[1]] * 20
    logits = np.zeros((100, 2), dtype=np.float32)
    logits[:, 0] = 1.0
    logits[80:, 1] = 0.6 + rng.normal(0, 0.05, 20)  # the rare label is right but always loses
    bias, tuned = tune_logit_bias(logits, gold)
    assert bias[1] - bias[0] > 0.4
    assert tuned == 1.0
