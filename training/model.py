"""The model being trained: the packaged MiniLM encoder with LoRA on its attention and
feed-forward layers, and the pooler and one classifier layer (every head's outputs) trained
in full. Why LoRA: see ``training.emotion``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from inference.loading import resolve_source
from training.config import TrainConfig
from training.warm_start import warm_start

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

LORA_TARGETS = (
    r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)"
    r"|attention\.output\.dense|intermediate\.dense|output\.dense)"
)


def build_model(config: TrainConfig, outputs: list[str]) -> tuple[PreTrainedTokenizerBase, torch.nn.Module]:
    """The tokenizer and the LoRA model with one output per name in ``outputs``, warm-started
    from ``config.init_from`` when set, on the device it trains on."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers import logging as hf_logging

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
        warm_start(model, config.init_from, outputs)
    # CUDA when present (minutes instead of an hour), else the CPU threads ``train_emotion`` configured.
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    return tokenizer, model


def fold_head_bias(model: torch.nn.Module, bias: np.ndarray) -> None:
    """Add the tuned logit ``bias`` (one per output) to the classifier's own bias."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("classifier.modules_to_save.default.bias"):
                param += torch.from_numpy(bias).to(param.device)
