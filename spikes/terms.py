"""The words that set a spike's texts apart from its baseline's: log-odds with a smoothing prior.

Pure functions over two lists of texts (the service samples at most ``MAX_TEXTS`` of each).
A term counts once per text (document frequency), so one long or repeated post cannot carry a
term alone. The score is the z-score of the smoothed log-odds ratio (Monroe, Colaresi and
Quinn 2008, "Fightin' Words", with a flat prior of ``PRIOR`` per term): frequent differences
outrank rare ones, which a raw ratio would not.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

MAX_TEXTS = 2000  # sample cap per side: enough for stable document frequencies, bounded work
PRIOR = 0.5  # pseudo-documents per term on each side
MIN_SPIKE_TEXTS = 2  # a term must occur in at least this many of the spike's texts
TOKEN = re.compile(r"[^\W\d_][\w'-]*[^\W_]|[^\W\d_]", re.UNICODE)

_STOPWORD_TEXT = """
    a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
    just let's me more most mustn't my myself no nor not now of off on once only or other ought our ours
    ourselves out over own rt same shan't she she'd she'll she's should shouldn't so some such than that
    that's the their theirs them themselves then there there's these they they'd they'll they're they've
    this those through to too under until up very via was wasn't we we'd we'll we're we've were weren't what
    what's when when's where where's which while who who's whom why why's will with won't would wouldn't
    you you'd you'll you're you've your yours yourself yourselves amp http https www com also get got just
    like one really still would
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokens(text: str) -> set[str]:
    """Lower-cased words of two or more letters, stopwords, links and mentions left out."""
    text = re.sub(r"https?://\S+|www\.\S+|[@#]\w+", " ", text.lower())
    return {t for t in TOKEN.findall(text) if len(t) > 1 and t not in STOPWORDS}


def _document_frequency(texts: Sequence[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(tokens(text))
    return counts


def top_terms(spike_texts: Sequence[str], baseline_texts: Sequence[str], *, limit: int = 10) -> list[dict]:
    """Up to ``limit`` terms over-represented in ``spike_texts``: ``{"term", "spike_share",
    "baseline_share", "score"}``, highest score first (ties by term, so the answer is stable)."""
    spike, baseline = _document_frequency(spike_texts), _document_frequency(baseline_texts)
    n, m = max(len(spike_texts), 1), max(len(baseline_texts), 1)
    scored = []
    for term, x in spike.items():
        if x < MIN_SPIKE_TEXTS:
            continue
        y = baseline.get(term, 0)
        odds_spike = (x + PRIOR) / (n - x + PRIOR)
        odds_base = (y + PRIOR) / (m - y + PRIOR)
        z = math.log(odds_spike / odds_base) / math.sqrt(1 / (x + PRIOR) + 1 / (y + PRIOR))
        if z > 0:
            scored.append((-z, term, x, y))
    scored.sort()
    return [
        {"term": term, "spike_share": round(x / n, 4), "baseline_share": round(y / m, 4), "score": round(-z, 3)}
        for z, term, x, y in scored[:limit]
    ]
