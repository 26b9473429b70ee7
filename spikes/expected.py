"""Expected hourly counts with hour-of-day and day-of-week effects, and how sure we are of them.

The baseline of the scored buckets of one UTC day (``00:00``-``23:00``) is the
``baseline_days`` before that day, minus the ``guard_hours`` right before it (so a spike that
ramps up around midnight does not raise its own baseline; a bucket at ``hh:00`` has a guard of
``guard_hours + hh`` hours) and minus the buckets already flagged (a past spike must not hide an
equal one a week later). One fit per topic and day instead of one per hour: 24x less work, the
same window for every bucket of the day whatever range is asked for, and a flag found at 10:00
could not have entered the 11:00 fit anyway.

The model (a Poisson GLM with main effects, fitted by iterative proportional fitting on the
7 x 24 table of the window's hour-of-week sums ``S[d, h]`` over ``N[d, h]`` observed hours)::

    m[d, h] = mu * a[h] * b[d]
    a[h] = (S[., h] + k) / (E[., h] + k),  E[., h] = mu * sum_d N[d, h] * b[d]   (b likewise)
    mu   = (S + 1/2) / (sum N * a * b + 1)

``k = PRIOR_MENTIONS`` is a Gamma(k, k) prior on each factor (posterior mean): with a few
mentions the factors stay near 1 (five single mentions in a month do not make five "peak
hours"); with hundreds they are the data's own (a 10x evening peak is estimated at ~9.8x).
``d, h`` are local to the settings' time zone. Pooling the 28 (hour) and 96 (weekday) hours of
each margin is what makes four weeks enough; a free factor per hour-of-week would rest on four
points.

Dispersion, two parts, both in ``var(X) = m + phi * m**2`` (negative binomial):

* over-dispersion of the baseline itself, by moments on its residuals,
  ``phi_over = max(0, (sum (y - m)^2 * n / (n - 30) - sum y) / sum m^2)``
  (30 fitted parameters; 0 for Poisson data, which the test then reduces to);
* the estimate's own uncertainty (delta method for the log-linear model),
  ``phi_est = (1/(S + 1/2) + [1/(S_h + k) - 1/(S + k)] + [1/(S_d + k) - 1/(S + k)]) * (1 + phi_over * S / N)``
  so a thin baseline widens the predictive instead of producing tiny p-values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikes.series import CELLS

PRIOR_MENTIONS = 2.0  # k: pseudo-mentions behind each hour-of-day / weekday factor's prior of 1
FIT_ITERATIONS = 3  # the table is nearly balanced (4 weeks): later rounds move expected counts < 0.1 %
FITTED_PARAMETERS = 30  # level + 23 hour-of-day + 6 weekday


def cell_sums(weights: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Per hour-of-week cell, the sum of ``weights`` (R, W) over the window's hours, whose cells
    are ``cells`` (W,): (R, CELLS)."""
    rows = weights.shape[0]
    flat = (np.arange(rows)[:, None] * CELLS + cells[None, :]).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=rows * CELLS).reshape(rows, CELLS)


@dataclass(frozen=True, eq=False)
class VolumeBaseline:
    """Per (row, bucket): the expected count and the predictive dispersion (``phi_over + phi_est``);
    per row: the over-dispersion alone and how many hours the fit saw."""

    expected: np.ndarray
    dispersion: np.ndarray
    overdispersion: np.ndarray
    hours: np.ndarray


def _factor(observed: np.ndarray, exposure: np.ndarray) -> np.ndarray:
    return (observed + PRIOR_MENTIONS) / (exposure + PRIOR_MENTIONS)


def fit_volume(hours: np.ndarray, sums: np.ndarray, squares: np.ndarray, bucket_cells: np.ndarray) -> VolumeBaseline:
    """Fit every row's window at once and read it at each scored bucket. ``hours``, ``sums``,
    ``squares``: (R, CELLS) window totals of observed hours, counts and squared counts;
    ``bucket_cells``: (B,) the hour-of-week cell of each scored bucket. Outputs are (R, B)."""
    rows = hours.shape[0]
    n = hours.reshape(rows, 7, 24)
    s = sums.reshape(rows, 7, 24)
    s_hour, s_day = s.sum(axis=1), s.sum(axis=2)
    s_total, n_total = s_hour.sum(axis=1), n.sum(axis=(1, 2))
    a, b = np.ones((rows, 24)), np.ones((rows, 7))
    mu = (s_total + 0.5) / (n_total + 1.0)
    for _ in range(FIT_ITERATIONS):
        a = _factor(s_hour, mu[:, None] * (n * b[:, :, None]).sum(axis=1))
        b = _factor(s_day, mu[:, None] * (n * a[:, None, :]).sum(axis=2))
        mu = (s_total + 0.5) / ((n * b[:, :, None] * a[:, None, :]).sum(axis=(1, 2)) + 1.0)
    fitted = (mu[:, None, None] * b[:, :, None] * a[:, None, :]).reshape(rows, CELLS)
    residual = (squares - 2.0 * fitted * sums + fitted**2 * hours).sum(axis=1)
    spread = (fitted**2 * hours).sum(axis=1)
    usable = (n_total > 2 * FITTED_PARAMETERS) & (spread > 0)
    scale = n_total / np.maximum(n_total - FITTED_PARAMETERS, 1.0)
    over = np.where(usable, (residual * scale - s_total) / np.where(usable, spread, 1.0), 0.0)
    over = np.maximum(over, 0.0)

    day, hour = np.divmod(bucket_cells, 24)
    expected = fitted[:, bucket_cells]
    whole = (1.0 / (s_total + PRIOR_MENTIONS))[:, None]
    estimate = (
        (1.0 / (s_total + 0.5))[:, None]
        + np.maximum(1.0 / (s_hour[:, hour] + PRIOR_MENTIONS) - whole, 0.0)
        + np.maximum(1.0 / (s_day[:, day] + PRIOR_MENTIONS) - whole, 0.0)
    ) * (1.0 + over * s_total / np.maximum(n_total, 1.0))[:, None]
    return VolumeBaseline(
        expected=expected,
        dispersion=over[:, None] + estimate,
        overdispersion=over,
        hours=n_total,
    )
