"""Fine-tune the default emotion model: LoRA on the packaged MiniLM encoder plus two heads.

Why LoRA: the committed artifact must stay small (a few MB) while the encoder itself is
installed from a package; a frozen-encoder linear head tops out near 0.48 macro-F1 on
GoEmotions/Ekman, fine-tuning the attention and feed-forward layers goes well past it.

Multi-task: one classifier layer holds the 7 Ekman emotion outputs and, when sentiment data
is given, the 3 outputs of a sentiment head (``inference.heads``), each with its own softmax
and loss, so a text still costs one forward pass. Training rows come from:

- GoEmotions/Ekman (Reddit): emotion targets; its sentiment-group taxonomy (``group/``, same
  rows) gives weaker sentiment targets (``derived_sentiment_weight``; "ambiguous" rows none);
- TweetEval sentiment (tweets): sentiment targets, trained on its ``test`` part, ``val``
  held out for model selection;
- TweetEval emotion (tweets): emotion targets mapped onto Ekman
  (``training.tweeteval.TWEET_EMOTION_TO_EKMAN``) and derived sentiment targets; trained on
  ``train`` + ``test``, ``val`` held out.

Multi-label rows are trained with a soft target spread evenly over their gold labels, so each
head stays a single-label softmax classifier. The checkpoint with the best mean dev score is
kept; then one logit bias per output is tuned on dev for macro-F1 (rare labels such as fear
and disgust are otherwise under-predicted) and folded into the head.

``train_emotion`` runs the steps, each in its own module: the rows and dev sets
(``training.data``), the model (``training.model``), the optimisation loop (``training.loop``),
the dev scores and bias tuning (``training.evaluation``), the artifact (``training.artifact``)
and, for a second stage, the warm start and its interpolation (``training.warm_start``).
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import torch

from training.artifact import save_adapter, stage_dir, write_manifest
from training.config import TrainConfig, TrainReport
from training.data import DataFolders, load_training_data
from training.evaluation import DevScorer, HeadOutputs, per_dev_report, tune_head_biases
from training.goemotions import read_label_names
from training.loop import HeadTargets, train_loop
from training.model import build_model, fold_head_bias
from training.warm_start import finish_warm_start

__all__ = ["TrainConfig", "TrainReport", "train_emotion"]


def train_emotion(
    data_dir: Path, out_dir: Path, config: TrainConfig = TrainConfig(), *, tweeteval: Path | None = None
) -> TrainReport:
    """Train on ``data_dir`` (GoEmotions) and, when given, ``tweeteval``; write the adapter
    artifact to ``out_dir`` and return its report."""
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    folders = DataFolders.find(data_dir, tweeteval)
    read_label_names(folders.ekman)
    labels, rows, dev_sets = load_training_data(folders, config)
    heads = HeadOutputs.of(labels, folders.has_sentiment)
    tokenizer, model = build_model(config, heads.names)

    def encode(texts: list[str]) -> list[list[int]]:
        return tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]

    train_ids = encode(rows.texts)
    evaluate = DevScorer(dev_sets, [encode(dev.texts) for dev in dev_sets], tokenizer.pad_token_id, heads)
    steps = train_loop(
        model, train_ids, HeadTargets.of(rows), heads, evaluate, config=config, pad_id=tokenizer.pad_token_id, rng=rng
    )

    _, _, all_logits = evaluate(model)
    bias = tune_head_biases(dev_sets, all_logits, heads)
    fold_head_bias(model, bias)
    dev_report = per_dev_report(dev_sets, all_logits, bias, labels, heads)

    written = stage_dir(out_dir, config)
    save_adapter(model, written)
    report = TrainReport.from_dev(
        dev_report,
        bias,
        steps=steps,
        seconds=round(time.perf_counter() - started, 1),
        train_rows=len(rows),
        sources=dict(rows.sources),
    )
    write_manifest(written, config, heads, report)
    if config.init_from:
        report = finish_warm_start(config, written, out_dir, labels, dev_sets, report)
        shutil.rmtree(written, ignore_errors=True)
    return report
