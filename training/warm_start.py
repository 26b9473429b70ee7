"""The second training stage's two ends: ``warm_start`` loads an adapter artifact into the model
before training, ``finish_warm_start`` interpolates the result back towards it and tunes the
heads' biases on dev sets and our own checks."""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from inference.heads import SENTIMENT_LABELS
from inference.loading import PACKAGED_MINILM, ArtifactManifest, resolve_source
from training.config import TrainConfig, TrainReport
from training.data import DevSet, check_dev_sets
from training.evaluation import HeadOutputs, dev_f1, per_dev_report, tune_bias, tune_head_bias
from training.goemotions import DatasetError
from training.interpolation import write_interpolated


def warm_start(model: torch.nn.Module, source: str, outputs: list[str]) -> None:
    """Start from an adapter artifact's LoRA, pooler and the head rows of outputs it shares.

    How the tweet-hardened default was made cheaply: the GoEmotions-only artifact already
    holds a good emotion encoder, so a shorter second stage adds the sentiment head and
    tweets (with some GoEmotions replayed so Reddit quality stays).
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = Path(resolve_source(source))
    manifest = ArtifactManifest.read(folder)
    if manifest.base != PACKAGED_MINILM and resolve_source(manifest.base) != resolve_source(PACKAGED_MINILM):
        raise DatasetError(f"{source}: built on {manifest.base}, not the encoder being trained")
    state = load_file(str(folder / "adapter_model.safetensors"))
    head = model.base_model.model.classifier.modules_to_save["default"]
    weight, bias = head.weight.detach().clone(), head.bias.detach().clone()
    for new, name in enumerate(outputs):
        if name in manifest.labels:
            old = manifest.labels.index(name)
            weight[new] = state["base_model.model.classifier.weight"][old]
            bias[new] = state["base_model.model.classifier.bias"][old]
    state["base_model.model.classifier.weight"], state["base_model.model.classifier.bias"] = weight, bias
    result = set_peft_model_state_dict(model, state)
    missing = [k for k in result.unexpected_keys if "lora" in k or "classifier" in k]
    if missing:
        raise DatasetError(f"{source}: adapter weights do not fit this model ({missing[:3]})")


def _dev_log_probs(folder: Path, dev_sets: list[DevSet], threads: int | None) -> list[np.ndarray]:
    """Log-probabilities (every output) of an artifact on each dev set: argmax(log p + bias)
    is argmax(logits + bias) within each head, so biases tune on these."""
    from inference.emotion import EmotionClassifier
    from inference.settings import EmotionModelSpec

    model = EmotionClassifier.from_spec(EmotionModelSpec(source=str(folder), runtime="torch", threads=threads))
    return [np.log(np.maximum(model.predict_proba(dev.texts), 1e-9)) for dev in dev_sets]


def _goemotions_tuned(log_probs: np.ndarray, goemotions: DevSet, num_emotions: int) -> tuple[np.ndarray, float]:
    """Emotion biases tuned on GoEmotions dev alone (as the warm start's were), and the score."""
    head = log_probs[:, :num_emotions]
    return tune_bias(lambda b: dev_f1(head + b, goemotions)[0], num_emotions)


def _choose_alpha(
    config: TrainConfig, tuned: Path, goemotions: DevSet, num_emotions: int, work: Path
) -> tuple[float, Path, np.ndarray, float]:
    """The smallest warm-start weight that keeps GoEmotions dev quality: alpha, its artifact
    (written under ``work``), its emotion biases, and the warm start's own score."""
    assert config.init_from is not None
    (init_log_probs,) = _dev_log_probs(Path(resolve_source(config.init_from)), [goemotions], config.threads)
    _, reference = _goemotions_tuned(init_log_probs, goemotions, num_emotions)
    for step in range(11):
        alpha = round(step / 10, 1)
        trial = work / f"alpha-{alpha}"
        write_interpolated(config.init_from, tuned, alpha, trial, version="trial")
        (log_probs,) = _dev_log_probs(trial, [goemotions], config.threads)
        emotion_bias, score = _goemotions_tuned(log_probs, goemotions, num_emotions)
        tqdm.write(
            f"interpolation alpha {alpha}: GoEmotions dev macro-F1 {score:.4f} (warm start {reference:.4f})",
            file=sys.stderr,
        )
        if score >= reference - config.interpolation_tolerance:
            return alpha, trial, emotion_bias, reference
    raise AssertionError("no alpha kept GoEmotions quality")  # unreachable: alpha 1 is the warm start itself


def finish_warm_start(
    config: TrainConfig, tuned: Path, out_dir: Path, labels: list[str], dev_sets: list[DevSet], report: TrainReport
) -> TrainReport:
    """Interpolate the second stage with its warm start (``training.interpolation``) and
    tune the heads' biases, writing the final artifact to ``out_dir``.

    The weight ``alpha`` of the warm start is the smallest of 0, 0.1, ..., 1 whose GoEmotions
    dev macro-F1 (emotion biases tuned on it, as the warm start's were) stays within
    ``interpolation_tolerance`` of the warm start's own: the tweets may not cost Reddit
    quality. The sentiment biases maximise the mean macro-F1 over TweetEval's val part and
    our three hand-written checks: monitored streams (complaints, debates) are far more
    negative than TweetEval, and a bias is where that prior lives.
    """
    num_emotions = len(labels)
    heads = HeadOutputs.of(labels, has_sentiment=True)
    goemotions = next(dev for dev in dev_sets if dev.name == "goemotions_dev")
    scored = dev_sets + check_dev_sets()  # read once; every one is scored with the chosen model
    with tempfile.TemporaryDirectory(dir=out_dir.parent) as work:
        alpha, trial, emotion_bias, reference = _choose_alpha(config, tuned, goemotions, num_emotions, Path(work))
        all_log_probs = _dev_log_probs(trial, scored, config.threads)
    bias = np.zeros(num_emotions + len(SENTIMENT_LABELS), dtype=np.float32)
    bias[:num_emotions] = emotion_bias
    sentiment_devs = [
        (dev, lp[:, heads.sentiment]) for dev, lp in zip(scored, all_log_probs, strict=True) if dev.head == "sentiment"
    ]
    bias[heads.sentiment] = tune_head_bias(sentiment_devs, len(SENTIMENT_LABELS))
    final = TrainReport.from_dev(
        per_dev_report(scored, all_log_probs, bias, labels, heads),
        bias,
        steps=report.steps,
        seconds=report.seconds,
        train_rows=report.train_rows,
        sources=report.sources,
    )
    write_interpolated(
        config.init_from,
        tuned,
        alpha,
        out_dir,
        version=time.strftime("%Y%m%d") + "-mt",
        head_bias=bias.tolist(),
        extra={"warm_start_goemotions_dev_macro_f1": round(reference, 4), "stage2_report": asdict(report)},
    )
    manifest = ArtifactManifest.read(out_dir)
    manifest.write(out_dir, training=asdict(config), report=asdict(final))
    return final
