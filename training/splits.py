"""Which rows train, which tune, which only report: the split rules every source follows.

Three parts per source:
- **train**: what the optimiser sees;
- **tune**: a seeded share of the training rows carved out before training; checkpoint
  selection, the heads' biases, calibration and the confusion matrices the share estimator
  uses are fitted here and nowhere else;
- **dev**: each source's own held-out split; it only reports figures. No training row and no
  tune row may be a dev text.

Tweets travel between public data sets (TweetEval's emotion task is drawn from SemEval-2018
E-c), so rows are compared by ``text_key``: case-folded, user handles and links replaced,
whitespace collapsed. The tune carve is by a hash of that key, not by row position, so the
same tweet lands in the same part whichever source it comes from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_HANDLE = re.compile(r"@\w+")
_LINK = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")


def text_key(text: str) -> str:
    """The form two copies of one tweet share across data sets."""
    text = _LINK.sub("http", _HANDLE.sub("@user", text.casefold()))
    return _SPACE.sub(" ", text).strip()


def is_tune_row(text: str, fraction: float, seed: int) -> bool:
    """Whether ``text`` belongs to the tune part: a stable ``fraction`` of keys per ``seed``."""
    digest = hashlib.blake2b(f"{seed}\x00{text_key(text)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < round(fraction * 10_000)


def keys_of(texts: Iterable[str]) -> set[str]:
    return {text_key(text) for text in texts}


def outside(texts: list[str], held: set[str]) -> list[int]:
    """Indices of ``texts`` whose key is not in ``held`` (and not a repeat of an earlier one)."""
    seen: set[str] = set()
    kept = []
    for i, text in enumerate(texts):
        key = text_key(text)
        if key in held or key in seen:
            continue
        seen.add(key)
        kept.append(i)
    return kept
