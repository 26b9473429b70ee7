"""Tail probabilities, the Benjamini-Hochberg step and severity.

Only ``scipy.special`` (no ``scipy.stats``): it imports in a fraction of the time and its
negative-binomial and incomplete-beta tails are vectorised C; ``scipy.stats.betabinom.sf``
sums in Python (about 8 s for one week of 50 topics) and floors at ~1e-14.
"""

from __future__ import annotations

import math
from functools import cache
from types import ModuleType

import numpy as np
from numpy.typing import ArrayLike

POISSON_BELOW = 1e-9  # dispersion under which the negative binomial is taken as Poisson


@cache
def _special() -> ModuleType:
    """``scipy.special``, imported the first time a tail is computed (about 0.5 s here), so
    importing ``spikes`` for its settings costs numpy only."""
    from scipy import special

    return special


def negative_binomial_tail(observed: ArrayLike, mean: ArrayLike, dispersion: ArrayLike) -> np.ndarray:
    """``P(X >= observed)`` for ``X`` with mean ``mean`` and variance ``mean + dispersion * mean**2``."""
    special = _special()
    observed, mean, dispersion = np.broadcast_arrays(
        np.asarray(observed, dtype=float), np.asarray(mean, dtype=float), np.asarray(dispersion, dtype=float)
    )
    # P(X >= x) = P(x, m) (regularised lower gamma) for Poisson and I_{m/(r+m)}(x, r) for the
    # negative binomial of size r = 1/dispersion; both take a real size (nbdtrc truncates it).
    x = np.maximum(observed, 1.0)
    tail = np.ones(x.shape)
    above = observed > 0
    poisson = above & (dispersion < POISSON_BELOW)
    tail[poisson] = special.gammainc(x[poisson], mean[poisson])
    spread = above & ~poisson
    size = 1.0 / dispersion[spread]
    tail[spread] = special.betainc(x[spread], size, mean[spread] / (size + mean[spread]))
    return tail


def beta_binomial_tail(
    labelled: np.ndarray, mentions: np.ndarray, share: np.ndarray, rho: np.ndarray, *, exact_below: float
) -> np.ndarray:
    """``P(X >= labelled)`` for ``X`` beta-binomial over ``mentions`` trials with mean ``share`` and
    intra-class correlation ``rho``.

    First a quasi-binomial (the binomial tail of the sample shrunk by the design effect
    ``1 + (n - 1) rho``, via the incomplete beta function), then the exact sum of beta-binomial
    terms wherever that is below ``exact_below``: the approximation is close in the bulk but up
    to 100x too small in the far tail, which is exactly where verdicts are made. Pass a few times
    the largest p-value any verdict can turn on (the per-bucket BH level)."""
    special = _special()
    labelled, mentions, share, rho = (np.asarray(v, dtype=float) for v in (labelled, mentions, share, rho))
    labelled, mentions, share, rho = np.broadcast_arrays(labelled, mentions, share, rho)
    effect = 1.0 + np.maximum(mentions - 1.0, 0.0) * rho
    positive = labelled > 0
    x = np.where(positive, labelled, 1.0) / effect
    rest = np.maximum(mentions - labelled, 0.0) / effect + 1.0
    tail = np.where(positive, special.betainc(x, rest, share), 1.0)
    exact = positive & (tail < exact_below)
    if exact.any():
        tail[exact] = _beta_binomial_tail_exact(labelled[exact], mentions[exact], share[exact], rho[exact])
    return tail


EXACT_BATCH_TERMS = 1 << 20  # terms summed per vectorised step of the exact tail


def _beta_binomial_tail_exact(labelled, mentions, share, rho) -> np.ndarray:
    """Sum of the beta-binomial terms ``labelled..mentions`` per test, in log space; tests are
    grouped by how many terms they need so the padded blocks stay near ``EXACT_BATCH_TERMS``."""
    special = _special()
    concentration = (1.0 - rho) / rho
    a, b = share * concentration, (1.0 - share) * concentration
    widths = (mentions - labelled + 1).astype(np.int64)
    out = np.empty(len(labelled))
    order = np.argsort(widths, kind="stable")
    begin = 0
    while begin < len(order):
        end = begin + 1
        while end < len(order) and (end - begin + 1) * widths[order[end]] <= EXACT_BATCH_TERMS:
            end += 1
        group = order[begin:end]
        j = labelled[group, None] + np.arange(widths[group].max())[None, :]
        n, ag, bg = mentions[group, None], a[group, None], b[group, None]
        inside = j <= n
        jj = np.where(inside, j, n)
        log_terms = (
            special.gammaln(n + 1.0)
            - special.gammaln(jj + 1.0)
            - special.gammaln(n - jj + 1.0)
            + special.betaln(jj + ag, n - jj + bg)
            - special.betaln(ag, bg)
        )
        out[group] = np.exp(special.logsumexp(np.where(inside, log_terms, -np.inf), axis=1))
        begin = end
    return np.minimum(out, 1.0)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values along the last axis; each row is one family. ``inf`` marks a slot
    with no test (rows may have different family sizes) and stays ``inf``."""
    p_values = np.asarray(p_values, dtype=float)
    order = np.argsort(p_values, axis=-1, kind="stable")
    ranked = np.take_along_axis(p_values, order, axis=-1)
    size = np.isfinite(p_values).sum(axis=-1, keepdims=True)
    rank = np.arange(1, p_values.shape[-1] + 1)
    with np.errstate(invalid="ignore"):  # an empty family: inf * 0, masked out just below
        scaled = np.where(np.isfinite(ranked), ranked * size / rank, np.inf)
    adjusted = np.minimum(np.minimum.accumulate(scaled[..., ::-1], axis=-1)[..., ::-1], 1.0)
    adjusted = np.where(np.isfinite(ranked), adjusted, np.inf)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


EVIDENCE_SATURATES = 30.0  # -log10 p at which the evidence half of severity is full
LIFT_SATURATES = 16.0  # lift at which the size half of severity is full


def severity(p_value: float, lift: float) -> int:
    """1-10, rising with the evidence and with the size of the rise (never falling in either)::

        evidence = min(1, -log10(p) / 30)   size = min(1, log2(lift) / log2(16))
        severity = 1 + round(9 * (evidence + size) / 2)

    Raw ``p`` (not the adjusted one) so severity does not depend on what else happened in the
    bucket. A just-significant doubling scores about 3; p = 1e-25 at 4x scores 7."""
    evidence = min(1.0, max(0.0, -math.log10(max(p_value, 1e-300)) / EVIDENCE_SATURATES))
    size = min(1.0, max(0.0, math.log2(max(lift, 1.0)) / math.log2(LIFT_SATURATES)))
    return 1 + math.floor(9.0 * (evidence + size) / 2.0 + 0.5)
