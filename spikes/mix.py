"""Mix shifts: a label's share of a bucket's mentions against its share in the baseline.

For each topic and kind (``emotion:<label>``, ``sentiment:negative``) the baseline pools the
same window as the volume fit (guard band and flagged buckets left out): ``X`` mentions with the
label out of ``N`` mentions over ``H`` hours that had any. Shares get no hour-of-day effect;
when they do vary by hour, that shows up as over-dispersion below and makes the test
more careful, not less.

The bucket's label count ``x`` of its ``n`` mentions is scored against a beta-binomial:

* baseline share ``pi = (X + 1/2) / (N + 1)`` (never 0, so a label's first appearance can
  still be scored);
* intra-hour correlation ``rho = rho_over + 1/(N + 2)``: ``rho_over`` by moments from the
  hourly Pearson statistic ``chi2 = sum (x_i - n_i pi)^2 / (n_i pi (1 - pi))``,
  ``rho_over = max(0, (chi2 - (H - 1)) / (N - H))`` (hour-to-hour swings beyond binomial), and
  ``1/(N + 2)`` the uncertainty of ``pi`` itself (the Beta(X + 1/2, N - X + 1/2) posterior's
  variance), so a thin baseline cannot produce tiny p-values.

The share rule (the mix counterpart of ``min_lift``): the bucket's share must reach
``min(min_lift * pi, (1 + pi) / 2)``, i.e. ``min_lift`` times the baseline, or, when that is out of
reach (a label that already holds half the mentions cannot double), close half the gap to 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class MixBaseline:
    """Per (row, kind): the baseline share and the beta-binomial's ``rho``."""

    share: np.ndarray
    rho: np.ndarray


def fit_mix(mix: np.ndarray, counts: np.ndarray, weight: np.ndarray) -> MixBaseline:
    """Baseline of one window: ``mix`` (R, J, W) label counts, ``counts`` (R, W) mentions, ``weight``
    (R, W) 1 for hours the baseline may use (observed, not flagged), else 0. Outputs are (R, J)."""
    if mix.shape[1] == 0:  # no topic has label or sentiment series
        return MixBaseline(share=np.zeros(mix.shape[:2]), rho=np.zeros(mix.shape[:2]))
    labelled = (mix * weight[:, None, :]).sum(axis=2)
    per_hour = np.divide(weight, counts, out=np.zeros_like(weight), where=counts > 0)
    squares = (mix**2 * per_hour[:, None, :]).sum(axis=2)
    total = (counts * weight).sum(axis=1)[:, None]
    busy = ((counts > 0) * weight).sum(axis=1)[:, None]

    raw = np.divide(labelled, total, out=np.zeros_like(labelled), where=total > 0)
    inside = (raw > 0) & (raw < 1) & (total > busy)
    variance = np.where(inside, raw * (1.0 - raw), 1.0)
    chi2 = (squares - 2.0 * raw * labelled + raw**2 * total) / variance
    over = np.where(inside, (chi2 - (busy - 1.0)) / np.where(inside, total - busy, 1.0), 0.0)
    rho = np.clip(np.maximum(over, 0.0) + 1.0 / (total + 2.0), 0.0, 0.999)
    return MixBaseline(share=(labelled + 0.5) / (total + 1.0), rho=rho)


def share_rule(labelled: np.ndarray, mentions: np.ndarray, share: np.ndarray, min_lift: float) -> np.ndarray:
    """Whether ``labelled / mentions`` is a big enough rise over the baseline ``share``."""
    needed = np.minimum(min_lift * share, (1.0 + share) / 2.0)
    return labelled >= needed * mentions
