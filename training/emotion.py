"""``moodwire train-emotion``: the emotion tower end to end, from the shared data to an artifact.

Steps, each in its own module: the sources and their train/tune/dev parts
(``training.corpus``); the frozen shared layers run once per text (``training.tower``); the
tower trained on their output, the checkpoint chosen on the tune sets (``training.tower_fit``);
one logit bias per output tuned on the tune sets for macro-F1 (``training.evaluation``) and
one temperature per head (``training.calibration``), both folded into the head; each head's
confusion on the tune sets for share adjustment (``training.share_fit``); the weights rounded
to what the artifact stores and written (``training.tower_artifact``). Dev sets are
scored once, at the end, on the saved model; nothing is chosen on them.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from inference.tower import MINILM_LAYERS, EmotionTower, LowerEncoder, load_base_encoder
from training.calibration import calibration_error, fold_into_head, head_temperatures, softmax
from training.config import TrainConfig
from training.corpus import CorpusFolders, load_corpus
from training.data import DevSet
from training.evaluation import HeadOutputs, per_dev_report, tune_head_biases
from training.loop import HeadTargets
from training.share_fit import Scored, adjustment_entries, dev_share_report
from training.tower import lower_states
from training.tower_artifact import round_to_half, save_tower
from training.tower_fit import SetScorer, fit_tower


@dataclass
class TrainedTower:
    """A trained tower, its biases and temperatures folded in, and how it scores."""

    tower: EmotionTower
    labels: list[str]
    heads: HeadOutputs
    report: dict[str, Any]
    share_adjustment: dict[str, Any]


def train_tower(folders: CorpusFolders, config: TrainConfig) -> TrainedTower:
    """Train a tower over ``config.shared_layers`` frozen layers on every source in ``folders``."""
    if not 0 <= config.shared_layers < MINILM_LAYERS:
        raise ValueError(f"shared_layers must be within 0..{MINILM_LAYERS - 1}, got {config.shared_layers}")
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    corpus = load_corpus(folders, config)
    heads = HeadOutputs.of(corpus.labels, has_sentiment=folders.has_sentiment)
    tokenizer, encoder = load_base_encoder(config.base)
    lower = LowerEncoder(encoder, config.shared_layers)
    total = len(corpus.train) + sum(len(s.texts) for s in corpus.tune + corpus.dev)
    with tqdm(total=total, desc="shared layers", unit="text", file=sys.stderr) as bar:

        def states_of(texts: list[str]) -> list[torch.Tensor]:
            ids = tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]
            return lower_states(lower, ids, tokenizer.pad_token_id, progress=bar)

        train_states = states_of(corpus.train.texts)
        tune = SetScorer(corpus.tune, [states_of(s.texts) for s in corpus.tune], heads)
        dev = SetScorer(corpus.dev, [states_of(s.texts) for s in corpus.dev], heads)
    shared_seconds = time.perf_counter() - started

    tower = EmotionTower.from_encoder(encoder, config.shared_layers, len(heads.names))
    steps = fit_tower(
        tower, train_states, HeadTargets.of(corpus.train), heads, tune, config=config, rng=random.Random(config.seed)
    )
    fit_seconds = time.perf_counter() - started - shared_seconds

    tune_logits = tune.logits(tower)
    bias = tune_head_biases(corpus.tune, tune_logits, heads)
    temperatures = head_temperatures(corpus.tune, tune_logits, bias, heads)
    dev_before = dev.logits(tower)  # for the calibration error before the temperatures
    fold_into_head(tower, bias, temperatures, heads)
    round_to_half(tower)
    zero = np.zeros(len(heads.names), dtype=np.float32)
    dev_logits = dev.logits(tower)
    tune_final = tune.logits(tower)
    share_adjustment = adjustment_entries(head_scores(corpus.tune, tune_final, heads), heads.names)
    dev_report = per_dev_report(corpus.dev, dev_logits, zero, corpus.labels, heads)
    for dev_set, before, after in zip(corpus.dev, dev_before, dev_logits, strict=True):
        dev_report[dev_set.name].update(calibration_figures(dev_set, before + bias, after, heads))
    report = {
        "dev": dev_report,
        "tune": per_dev_report(corpus.tune, tune_final, zero, corpus.labels, heads),
        "shares": dev_share_report(share_adjustment, head_scores(corpus.dev, dev_logits, heads)),
        "logit_bias": [round(float(b), 2) for b in bias],
        "temperatures": temperatures,
        "steps": steps,
        "seconds": {
            "shared_layers": round(shared_seconds, 1),
            "fit": round(fit_seconds, 1),
            "total": round(time.perf_counter() - started, 1),
        },
        "train_rows": len(corpus.train),
        "sources": dict(corpus.train.sources),
        "dropped": dict(corpus.dropped),
    }
    return TrainedTower(
        tower=tower, labels=corpus.labels, heads=heads, report=report, share_adjustment=share_adjustment
    )


def head_scores(sets: list[DevSet], logits: list[np.ndarray], heads: HeadOutputs) -> Scored:
    """Each set's probabilities on its head, as the saved model gives them (the biases and
    temperatures are folded in): what ``training.share_fit`` measures confusion on."""
    out: Scored = {"emotion": [], "sentiment": []}
    for dev_set, set_logits in zip(sets, logits, strict=True):
        out[dev_set.head].append((dev_set, softmax(set_logits[:, heads.columns(dev_set.head)])))
    return out


def calibration_figures(dev: DevSet, uncalibrated: np.ndarray, calibrated: np.ndarray, heads: HeadOutputs) -> dict:
    """The dev set's expected calibration error on its head, before and after the temperature."""
    cols = heads.columns(dev.head)
    return {
        "calibration_error_before": round(calibration_error(softmax(uncalibrated[:, cols]), dev.gold), 4),
        "calibration_error": round(calibration_error(softmax(calibrated[:, cols]), dev.gold), 4),
    }


def train_emotion(folders: CorpusFolders, out_dir: Path, config: TrainConfig = TrainConfig()) -> dict[str, Any]:
    """Train the tower and write its artifact to ``out_dir``; return the report."""
    trained = train_tower(folders, config)
    version = time.strftime("%Y%m%d") + f"-tower{MINILM_LAYERS - config.shared_layers}"
    version = save_tower(
        out_dir,
        trained.tower,
        base=config.base,
        shared_layers=config.shared_layers,
        labels=trained.heads.names,
        version=version,
        training=asdict(config),
        report=trained.report,
        share_adjustment=trained.share_adjustment,
    )
    return {"version": version, **trained.report}


__all__ = ["TrainedTower", "train_emotion", "train_tower"]
