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
  (``inference.tweeteval.TWEET_EMOTION_TO_EKMAN``) and derived sentiment targets; trained on
  ``train`` + ``test``, ``val`` held out.

Multi-label rows are trained with a soft target spread evenly over their gold labels, so each
head stays a single-label softmax classifier. The checkpoint with the best mean dev score is
kept; then one logit bias per output is tuned on dev for macro-F1 (rare labels such as fear
and disgust are otherwise under-predicted) and folded into the head.
"""

from __future__ import annotations

import math
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from inference.goemotions import DatasetError, LabelledSplit, read_label_names, read_split
from inference.heads import SENTIMENT_LABELS, SENTIMENT_OUTPUTS
from inference.loading import PACKAGED_MINILM, ArtifactManifest, resolve_source
from inference.metrics import top1_macro_f1
from inference.tweeteval import TWEET_EMOTION_TO_EKMAN, TWEET_EMOTION_TO_SENTIMENT, read_tweeteval

LORA_TARGETS = (
    r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)"
    r"|attention\.output\.dense|intermediate\.dense|output\.dense)"
)
GROUP_TO_SENTIMENT = {"negative": "negative", "neutral": "neutral", "positive": "positive"}  # ambiguous: none


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 2.0
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    max_length: int = 128
    evals_per_epoch: int = 2
    seed: int = 13
    threads: int | None = None
    limit: int | None = None
    base: str = PACKAGED_MINILM
    sentiment_weight: float = 1.0
    derived_sentiment_weight: float = 0.3
    init_from: str | None = None
    goemotions_fraction: float = 1.0
    interpolation_tolerance: float = 0.005


@dataclass(frozen=True)
class TrainReport:
    dev_macro_f1_raw: float
    dev_macro_f1: float
    per_label_f1: dict[str, float]
    logit_bias: list[float]
    steps: int
    seconds: float
    train_rows: int
    dev: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DataFolders:
    """Where each source lives; ``None`` when it was not given or not found."""

    ekman: Path
    groups: Path | None = None
    tweet_sentiment: Path | None = None
    tweet_emotion: Path | None = None

    @classmethod
    def find(cls, goemotions: Path, tweeteval: Path | None = None) -> DataFolders:
        """``goemotions`` is the GoEmotions root (``ekman/`` and, used when present, ``group/``)
        or an Ekman-format folder alone (emotion targets only, as the first stage trains)."""
        root = (goemotions / "ekman" / "labels.txt").is_file()
        ekman = goemotions / "ekman" if root else goemotions
        groups = goemotions / "group" if root and (goemotions / "group" / "labels.txt").is_file() else None
        sentiment = emotion = None
        if tweeteval is not None:
            if not tweeteval.is_dir():
                raise DatasetError(f"{tweeteval}: not a folder")
            sentiment, emotion = tweeteval / "sentiment", tweeteval / "emotion"
            missing = [str(p) for p in (sentiment, emotion) if not (p / "mapping.txt").is_file()]
            if missing:
                raise DatasetError(f"{', '.join(missing)}: missing TweetEval task folder (mapping.txt)")
        return cls(ekman=ekman, groups=groups, tweet_sentiment=sentiment, tweet_emotion=emotion)

    @property
    def has_sentiment(self) -> bool:
        return self.groups is not None or self.tweet_sentiment is not None


@dataclass
class TrainingRows:
    """Texts with per-head soft targets; a zero weight means "no target for this head"."""

    texts: list[str] = field(default_factory=list)
    emotion: list[np.ndarray] = field(default_factory=list)
    emotion_weight: list[float] = field(default_factory=list)
    sentiment: list[np.ndarray] = field(default_factory=list)
    sentiment_weight: list[float] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)

    def add(self, source: str, texts, emotion, emotion_weight, sentiment, sentiment_weight) -> None:
        self.texts.extend(texts)
        self.emotion.extend(emotion)
        self.emotion_weight.extend(emotion_weight)
        self.sentiment.extend(sentiment)
        self.sentiment_weight.extend(sentiment_weight)
        self.sources[source] = self.sources.get(source, 0) + len(texts)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class DevSet:
    """A held-out split scored on one head; ``scored`` limits macro-F1 to the labels it has."""

    name: str
    head: str  # "emotion" | "sentiment"
    texts: list[str]
    gold: list[list[int]]
    scored: list[int] | None = None


def _soft(labels: list[list[int]], width: int) -> list[np.ndarray]:
    rows = []
    for ids in labels:
        row = np.zeros(width, dtype=np.float32)
        if ids:
            row[ids] = 1.0 / len(ids)
        rows.append(row)
    return rows


def _group_sentiment(groups: LabelledSplit) -> tuple[list[np.ndarray], list[float]]:
    """GoEmotions sentiment groups as (negative, neutral, positive) targets; ambiguous: none."""
    index = {
        name: SENTIMENT_LABELS.index(GROUP_TO_SENTIMENT[name])
        for name in groups.label_names
        if name in GROUP_TO_SENTIMENT
    }
    mapped = [[index[groups.label_names[i]] for i in ids if groups.label_names[i] in index] for ids in groups.labels]
    return _soft(mapped, 3), [1.0 if ids else 0.0 for ids in mapped]


def load_training_data(folders: DataFolders, config: TrainConfig) -> tuple[list[str], TrainingRows, list[DevSet]]:
    """Emotion labels, training rows of every source and the dev sets, per ``folders``."""
    limit = config.limit
    dev_limit = limit and max(limit // 4, 50)
    train = read_split(folders.ekman, "train", limit=limit)
    dev = read_split(folders.ekman, "dev", limit=dev_limit)
    labels = train.label_names
    width = len(labels)
    rows = TrainingRows()
    zeros3 = [np.zeros(3, dtype=np.float32)] * len(train)
    sentiment, sentiment_weight = zeros3, [0.0] * len(train)
    dev_sets = [DevSet("goemotions_dev", "emotion", dev.texts, dev.labels)]
    if folders.groups is not None:
        groups = read_split(folders.groups, "train", limit=limit)
        if groups.texts != train.texts:
            raise DatasetError(f"{folders.groups}/train.tsv: rows differ from {folders.ekman}/train.tsv")
        sentiment, present = _group_sentiment(groups)
        sentiment_weight = [w * config.derived_sentiment_weight for w in present]
    keep = list(range(len(train)))
    if config.goemotions_fraction < 1.0:
        keep = sorted(random.Random(config.seed).sample(keep, max(1, int(len(keep) * config.goemotions_fraction))))
    emotion = _soft(train.labels, width)
    rows.add(
        "goemotions",
        [train.texts[i] for i in keep],
        [emotion[i] for i in keep],
        [1.0] * len(keep),
        [sentiment[i] for i in keep],
        [sentiment_weight[i] for i in keep],
    )

    if folders.tweet_sentiment is not None:
        part = read_tweeteval(folders.tweet_sentiment, "test", {}, list(SENTIMENT_LABELS))
        part = _limited(part, limit)
        rows.add(
            "tweeteval_sentiment",
            part.texts,
            [np.zeros(width, dtype=np.float32)] * len(part),
            [0.0] * len(part),
            _soft(part.labels, 3),
            [config.sentiment_weight] * len(part),
        )
        held = _limited(read_tweeteval(folders.tweet_sentiment, "val", {}, list(SENTIMENT_LABELS)), dev_limit)
        dev_sets.append(DevSet("tweeteval_sentiment_val", "sentiment", held.texts, held.labels))
    if folders.tweet_emotion is not None:
        missing = sorted(set(TWEET_EMOTION_TO_EKMAN.values()) - set(labels))
        if missing:
            raise DatasetError(f"{folders.ekman}/labels.txt: TweetEval emotion needs the labels {missing}")
        for split in ("train", "test"):
            part = _limited(read_tweeteval(folders.tweet_emotion, split, TWEET_EMOTION_TO_EKMAN, labels), limit)
            polarity = read_tweeteval(folders.tweet_emotion, split, TWEET_EMOTION_TO_SENTIMENT, list(SENTIMENT_LABELS))
            rows.add(
                "tweeteval_emotion",
                part.texts,
                _soft(part.labels, width),
                [1.0] * len(part),
                _soft(polarity.labels[: len(part)], 3),
                [config.derived_sentiment_weight] * len(part),
            )
        held = _limited(read_tweeteval(folders.tweet_emotion, "val", TWEET_EMOTION_TO_EKMAN, labels), dev_limit)
        scored = sorted({ids[0] for ids in held.labels})
        dev_sets.append(DevSet("tweeteval_emotion_val", "emotion", held.texts, held.labels, scored))
    return labels, rows, dev_sets


def _limited(split: LabelledSplit, limit: int | None) -> LabelledSplit:
    if limit is None:
        return split
    return LabelledSplit(texts=split.texts[:limit], labels=split.labels[:limit], label_names=split.label_names)


def _length_bucketed_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (little padding), in random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _pad(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return input_ids, mask


@torch.inference_mode()
def _logits(model, encoded: list[list[int]], pad_id: int, batch_tokens: int = 8192) -> np.ndarray:
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out = np.zeros((len(encoded), model.config.num_labels), dtype=np.float32)
    start = 0
    while start < len(order):
        width = len(encoded[order[min(start + 255, len(order) - 1)]])
        size = max(1, min(256, batch_tokens // max(width, 1)))
        idx = order[start : start + size]
        input_ids, mask = _pad([encoded[i] for i in idx], pad_id)
        device = next(model.parameters()).device
        out[idx] = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits.float().cpu().numpy()
        start += size
    return out


def dev_f1(logits: np.ndarray, dev: DevSet) -> tuple[float, list[float]]:
    """Top-1 macro-F1 of one head's ``logits`` on ``dev`` (over ``dev.scored`` when set)."""
    score, per_label = top1_macro_f1(logits.argmax(1).tolist(), dev.gold, logits.shape[1])
    if dev.scored is None:
        return score, per_label
    return float(np.mean([per_label[i] for i in dev.scored])), per_label


def tune_bias(objective: Callable[[np.ndarray], float], num_labels: int, rounds: int = 3) -> tuple[np.ndarray, float]:
    """Coordinate ascent on one additive bias per label to maximise ``objective(bias)``."""
    bias = np.zeros(num_labels, dtype=np.float32)
    best = objective(bias)
    grid = np.arange(-2.0, 2.01, 0.1)
    for _ in range(rounds):
        for label in range(num_labels):
            for value in grid:
                trial = bias.copy()
                trial[label] = value
                score = objective(trial)
                if score > best + 1e-6:
                    best, bias = score, trial
    return bias, best


def tune_logit_bias(logits: np.ndarray, gold: list[list[int]], rounds: int = 3) -> tuple[np.ndarray, float]:
    """One bias per label maximising top-1 macro-F1 of ``logits`` against ``gold``."""
    num_labels = logits.shape[1]
    return tune_bias(
        lambda bias: top1_macro_f1((logits + bias).argmax(1).tolist(), gold, num_labels)[0], num_labels, rounds
    )


def _warm_start(model, source: str, outputs: list[str]) -> None:
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


def train_emotion(
    data_dir: Path, out_dir: Path, config: TrainConfig = TrainConfig(), *, tweeteval: Path | None = None
) -> TrainReport:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers import logging as hf_logging

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    folders = DataFolders.find(data_dir, tweeteval)
    read_label_names(folders.ekman)
    labels, rows, dev_sets = load_training_data(folders, config)
    num_emotions = len(labels)
    outputs = labels + (list(SENTIMENT_OUTPUTS) if folders.has_sentiment else [])
    emotion_cols = list(range(num_emotions))
    sentiment_cols = list(range(num_emotions, len(outputs)))

    base_path = resolve_source(config.base)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    hf_logging.set_verbosity_error()
    model = AutoModelForSequenceClassification.from_pretrained(
        base_path,
        num_labels=len(outputs),
        id2label=dict(enumerate(outputs)),
        label2id={name: i for i, name in enumerate(outputs)},
    )
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=LORA_TARGETS,
        modules_to_save=["classifier", "pooler"],
        task_type="SEQ_CLS",
    )
    model = get_peft_model(model, lora)
    if config.init_from:
        _warm_start(model, config.init_from, outputs)
    # CUDA when present (minutes instead of an hour), else the CPU threads configured above.
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)

    def encode(texts: list[str]) -> list[list[int]]:
        return tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]

    train_ids = encode(rows.texts)
    dev_ids = [encode(dev.texts) for dev in dev_sets]
    emotion_targets = torch.from_numpy(np.stack(rows.emotion))
    emotion_weights = torch.tensor(rows.emotion_weight)
    sentiment_targets = torch.from_numpy(np.stack(rows.sentiment))
    sentiment_weights = torch.tensor(rows.sentiment_weight)
    lengths = [len(x) for x in train_ids]
    steps_per_epoch = math.ceil(len(train_ids) / config.batch_size)
    total_steps = max(1, int(steps_per_epoch * config.epochs))
    warmup = max(1, int(total_steps * config.warmup_fraction))
    eval_every = max(1, steps_per_epoch // max(1, config.evals_per_epoch))

    def head_logits(logits: np.ndarray, dev: DevSet) -> np.ndarray:
        return logits[:, emotion_cols if dev.head == "emotion" else sentiment_cols]

    def evaluate() -> tuple[float, dict[str, float], list[np.ndarray]]:
        all_logits = [_logits(model, ids, tokenizer.pad_token_id) for ids in dev_ids]
        scores = {dev.name: dev_f1(head_logits(lg, dev), dev)[0] for dev, lg in zip(dev_sets, all_logits, strict=True)}
        return float(np.mean(list(scores.values()))), scores, all_logits

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup))),
    )

    best_score, best_state, step = -1.0, None, 0
    bar = tqdm(total=total_steps, desc="train-emotion", unit="step", file=sys.stderr)
    while step < total_steps:
        for batch in _length_bucketed_batches(lengths, config.batch_size, rng):
            if step >= total_steps:
                break
            model.train()
            input_ids, mask = _pad([train_ids[i] for i in batch], tokenizer.pad_token_id)
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits.float().cpu()
            loss_rows = emotion_weights[batch] * torch.sum(
                -emotion_targets[batch] * torch.log_softmax(logits[:, emotion_cols], dim=-1), dim=-1
            )
            if sentiment_cols:
                loss_rows = loss_rows + sentiment_weights[batch] * torch.sum(
                    -sentiment_targets[batch] * torch.log_softmax(logits[:, sentiment_cols], dim=-1), dim=-1
                )
            loss = loss_rows.mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", best=f"{best_score:.3f}")
            if step % eval_every == 0 or step == total_steps:
                score, scores, _ = evaluate()
                shown = ", ".join(f"{name} {value:.4f}" for name, value in scores.items())
                tqdm.write(f"step {step}/{total_steps}: mean dev macro-F1 {score:.4f} ({shown})", file=sys.stderr)
                if score > best_score:
                    best_score = score
                    best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    bar.close()

    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    _, raw_scores, all_logits = evaluate()
    bias = np.zeros(len(outputs), dtype=np.float32)
    emotion_devs = [
        (dev, head_logits(lg, dev)) for dev, lg in zip(dev_sets, all_logits, strict=True) if dev.head == "emotion"
    ]
    bias[emotion_cols], _ = tune_bias(
        lambda b: float(np.mean([dev_f1(lg + b, dev)[0] for dev, lg in emotion_devs])), num_emotions
    )
    sentiment_devs = [
        (dev, head_logits(lg, dev)) for dev, lg in zip(dev_sets, all_logits, strict=True) if dev.head == "sentiment"
    ]
    if sentiment_devs:
        bias[sentiment_cols], _ = tune_bias(
            lambda b: float(np.mean([dev_f1(lg + b, dev)[0] for dev, lg in sentiment_devs])), len(sentiment_cols)
        )
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("classifier.modules_to_save.default.bias"):
                param += torch.from_numpy(bias).to(param.device)
    dev_report: dict[str, dict] = {}
    for dev, lg in zip(dev_sets, all_logits, strict=True):
        names = labels if dev.head == "emotion" else list(SENTIMENT_LABELS)
        cols = emotion_cols if dev.head == "emotion" else sentiment_cols
        tuned, per_label = dev_f1(lg[:, cols] + bias[cols], dev)
        kept = dev.scored if dev.scored is not None else range(len(names))
        dev_report[dev.name] = {
            "rows": len(dev.texts),
            "macro_f1_raw": round(raw_scores[dev.name], 4),
            "macro_f1": round(tuned, 4),
            "per_label_f1": {names[i]: round(per_label[i], 4) for i in kept},
        }
    main_dev = dev_report["goemotions_dev"]

    final_dir = out_dir
    if config.init_from:
        out_dir = out_dir.parent / f".{out_dir.name}.stage2"
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    (out_dir / "README.md").unlink(missing_ok=True)  # peft's generated model card template
    report = TrainReport(
        dev_macro_f1_raw=main_dev["macro_f1_raw"],
        dev_macro_f1=main_dev["macro_f1"],
        per_label_f1=main_dev["per_label_f1"],
        logit_bias=[round(float(b), 2) for b in bias],
        steps=step,
        seconds=round(time.perf_counter() - started, 1),
        train_rows=len(rows),
        dev=dev_report,
        sources=dict(rows.sources),
    )
    ArtifactManifest(
        base=config.base,
        labels=outputs,
        max_length=config.max_length,
        version=time.strftime("%Y%m%d") + f"-r{config.lora_rank}" + ("-mt" if sentiment_cols else ""),
    ).write(out_dir, training=asdict(config), report=asdict(report))
    if config.init_from:
        report = finish_warm_start(config, out_dir, final_dir, labels, dev_sets, report)
        shutil.rmtree(out_dir, ignore_errors=True)
    return report


# Our own hand-written sentiment checks of the kinds moodwire is judged on (customer service,
# politics, general): with TweetEval's val part they set the sentiment head's biases.
SENTIMENT_CHECK_FILES = ("sentiment_service.tsv", "sentiment_politics.tsv", "sentiment_general.tsv")


def _check_dev_sets() -> list[DevSet]:
    from inference.quality import CHECKS_DIR, read_labelled

    sets = []
    for name in SENTIMENT_CHECK_FILES:
        texts, gold = read_labelled(CHECKS_DIR / name)
        sets.append(
            DevSet(
                f"check_{name.removesuffix('.tsv')}", "sentiment", texts, [[SENTIMENT_LABELS.index(g)] for g in gold]
            )
        )
    return sets


def _dev_log_probs(folder: Path, dev_sets: list[DevSet], threads: int | None) -> list[np.ndarray]:
    """Log-probabilities (every output) of an artifact on each dev set: argmax(log p + bias)
    is argmax(logits + bias) within each head, so biases tune on these."""
    from inference.emotion import EmotionClassifier
    from inference.settings import EmotionModelSpec

    model = EmotionClassifier.from_spec(EmotionModelSpec(source=str(folder), runtime="torch", threads=threads))
    return [np.log(np.maximum(model.predict_proba(dev.texts), 1e-9)) for dev in dev_sets]


def finish_warm_start(
    config: TrainConfig, tuned: Path, out_dir: Path, labels: list[str], dev_sets: list[DevSet], report: TrainReport
) -> TrainReport:
    """Interpolate the second stage with its warm start (``inference.interpolation``) and
    tune the heads' biases, writing the final artifact to ``out_dir``.

    The weight ``alpha`` of the warm start is the smallest of 0, 0.1, ..., 1 whose GoEmotions
    dev macro-F1 (emotion biases tuned on it, as the warm start's were) stays within
    ``interpolation_tolerance`` of the warm start's own: the tweets may not cost Reddit
    quality. The sentiment biases maximise the mean macro-F1 over TweetEval's val part and
    our three hand-written checks: monitored streams (complaints, debates) are far more
    negative than TweetEval, and a bias is where that prior lives.
    """
    from inference.interpolation import write_interpolated

    num_emotions = len(labels)
    goemotions = next(dev for dev in dev_sets if dev.name == "goemotions_dev")
    scored = dev_sets + _check_dev_sets()  # read once; every one is scored with the chosen model
    sentiment_devs = [dev for dev in scored if dev.head == "sentiment"]

    def goemotions_tuned(log_probs: np.ndarray) -> tuple[np.ndarray, float]:
        head = log_probs[:, :num_emotions]
        return tune_bias(lambda b: dev_f1(head + b, goemotions)[0], num_emotions)

    (init_log_probs,) = _dev_log_probs(Path(resolve_source(config.init_from)), [goemotions], config.threads)
    _, reference = goemotions_tuned(init_log_probs)
    chosen = None
    with tempfile.TemporaryDirectory(dir=out_dir.parent) as work:
        for step in range(11):
            alpha = round(step / 10, 1)
            trial = Path(work, f"alpha-{alpha}")
            write_interpolated(config.init_from, tuned, alpha, trial, version="trial")
            (log_probs,) = _dev_log_probs(trial, [goemotions], config.threads)
            emotion_bias, score = goemotions_tuned(log_probs)
            tqdm.write(
                f"interpolation alpha {alpha}: GoEmotions dev macro-F1 {score:.4f} (warm start {reference:.4f})",
                file=sys.stderr,
            )
            if score >= reference - config.interpolation_tolerance:
                chosen = (alpha, trial, emotion_bias)
                break
        assert chosen is not None  # alpha 1 is the warm start itself
        alpha, trial, emotion_bias = chosen
        all_log_probs = _dev_log_probs(trial, scored, config.threads)
    by_name = dict(zip([dev.name for dev in scored], all_log_probs, strict=True))
    bias = np.zeros(num_emotions + len(SENTIMENT_LABELS), dtype=np.float32)
    bias[:num_emotions] = emotion_bias
    sentiment_cols = slice(num_emotions, num_emotions + len(SENTIMENT_LABELS))
    bias[sentiment_cols], _ = tune_bias(
        lambda b: float(np.mean([dev_f1(by_name[dev.name][:, sentiment_cols] + b, dev)[0] for dev in sentiment_devs])),
        len(SENTIMENT_LABELS),
    )
    dev_report: dict[str, dict] = {}
    for dev in scored:
        names = labels if dev.head == "emotion" else list(SENTIMENT_LABELS)
        cols = slice(0, num_emotions) if dev.head == "emotion" else sentiment_cols
        raw, _ = dev_f1(by_name[dev.name][:, cols], dev)
        tuned_f1, per_label = dev_f1(by_name[dev.name][:, cols] + bias[cols], dev)
        kept = dev.scored if dev.scored is not None else range(len(names))
        dev_report[dev.name] = {
            "rows": len(dev.texts),
            "macro_f1_raw": round(raw, 4),
            "macro_f1": round(tuned_f1, 4),
            "per_label_f1": {names[i]: round(per_label[i], 4) for i in kept},
        }
    main_dev = dev_report["goemotions_dev"]
    final = TrainReport(
        dev_macro_f1_raw=main_dev["macro_f1_raw"],
        dev_macro_f1=main_dev["macro_f1"],
        per_label_f1=main_dev["per_label_f1"],
        logit_bias=[round(float(b), 2) for b in bias],
        steps=report.steps,
        seconds=report.seconds,
        train_rows=report.train_rows,
        dev=dev_report,
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
