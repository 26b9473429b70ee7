"""Seeded benchmark mentions with realistic lengths.

Mostly tweet-sized posts, some paragraph-long comments and a few articles over 10,000
characters (the case that took the old system 7.1 s). The same seed gives the same texts,
so figures from different runs and machines compare.
"""

from __future__ import annotations

import numpy as np

SUBJECTS = [
    "the new tax plan", "gas prices", "the hospital in our town", "the border bill", "the school board",
    "the mayor", "rent in this city", "the election results", "the climate summit", "the police chief",
    "my insurance company", "the trade deal", "the senator", "interest rates", "the water bill",
    "the bus service", "the new stadium", "the refugee centre", "the heat wave", "the court ruling",
]  # fmt: skip
OPINIONS = [
    "is a disgrace", "finally makes sense", "scares me more every day", "is the best news this year",
    "made me laugh out loud", "is going to ruin small businesses", "surprised absolutely everyone",
    "is just sad to watch", "is exactly what we voted for", "makes me so angry I can't sleep",
    "is honestly not a big deal", "gives me hope for once", "smells like corruption",
    "will cost families thousands", "was handled really well",
]  # fmt: skip
TAILS = [
    "", "!!", " #politics", " Thoughts?", " Unbelievable.", " Share if you agree.", " lol", " 😡",
    " 🙏", " Read the thread below.", " Not again.", " Call your representative.",
]  # fmt: skip
CONNECTORS = [
    "Meanwhile,", "On top of that,", "To be fair,", "Honestly,", "And yet", "Worse still,",
    "At the same time,", "Nobody mentions that", "People forget that", "What bothers me is that",
]  # fmt: skip


def _sentence(rng: np.random.Generator) -> str:
    subject = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    opinion = OPINIONS[int(rng.integers(len(OPINIONS)))]
    return f"{subject[0].upper()}{subject[1:]} {opinion}."


def _paragraph(rng: np.random.Generator, target_chars: int) -> str:
    parts = [_sentence(rng)]
    while sum(len(p) + 1 for p in parts) < target_chars:
        connector = CONNECTORS[int(rng.integers(len(CONNECTORS)))]
        parts.append(f"{connector} {_sentence(rng).lower()}")
    return " ".join(parts)


def generate_texts(count: int, *, seed: int = 20261123, short_only: bool = False) -> list[str]:
    """``count`` mentions: ~85% posts (30-280 chars), ~14.9% comments (300-1,500 chars),
    and 1 in 1,000 an article of 10,000-14,000 characters (at least one when count >= 100).
    ``short_only`` gives posts only. Posts carry a number, so few texts repeat exactly."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(count):
        draw = 1.0 if short_only else rng.random()
        if draw < 0.001 or (not short_only and count >= 100 and i == count // 2):
            texts.append(_paragraph(rng, int(rng.integers(10_000, 14_000))))
        elif draw < 0.15:
            texts.append(_paragraph(rng, int(rng.integers(300, 1_500))))
        else:
            day = int(rng.integers(1, 400))
            text = f"Day {day}: " + _sentence(rng) + TAILS[int(rng.integers(len(TAILS)))]
            if rng.random() < 0.4:
                text += " " + _sentence(rng)
            texts.append(text)
    return texts


def length_profile(texts: list[str]) -> dict[str, float]:
    lengths = np.array([len(t) for t in texts])
    return {
        "texts": len(texts),
        "mean_chars": round(float(lengths.mean()), 1),
        "p50_chars": int(np.percentile(lengths, 50)),
        "p99_chars": int(np.percentile(lengths, 99)),
        "over_10k": int((lengths > 10_000).sum()),
    }
