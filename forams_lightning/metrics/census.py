"""Counting a sample species by species: proportions with their intervals, and proportions adjusted for a classifier's
known confusion. Pure functions.

The adjustment is adjusted classify-and-count (Forman, "Quantifying counts and costs via classification", Data
Mining and Knowledge Discovery 17, 2008), in its multi-class form: the observed shares q are what the confusion
rates R (R[i, j]: share of species i's specimens identified as j) make of the true shares p, q = Rᵀp, solved for p
by least squares on the simplex (p >= 0, sum 1). Beijbom et al. ("Quantification in-the-wild", 2015) measured it on
plankton samples."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls
from scipy.stats import norm

SIMPLEX_WEIGHT = 1e3  # how hard the least squares hold the shares' sum at 1
# Pseudo counts of correct identification added to each species' held-out images: a species known from 5 held-out
# images has its measured confusion at half weight (set a priori: species with 1-2 held-out images otherwise move the
# adjustment by their noise; on radiolaria, ~1.6 a species, the unregularised adjustment was worse than none).
CONFUSION_PRIOR = 5.0


def wilson_interval(count: np.ndarray, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of the proportion count / n (binomial sampling of the specimens counted; it says
    nothing of identification errors). Both bounds 0 where n is 0."""
    count = np.asarray(count, float)
    if n <= 0:
        return np.zeros_like(count), np.zeros_like(count)
    z = norm.ppf(0.5 + level / 2)
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def confusion_rates(counts: np.ndarray, prior: float = 0.0) -> np.ndarray:
    """Row-normalised confusion counts (rows: true species, columns: identified as), each row with `prior` pseudo
    counts of correct identification added: a species known from a few held-out images keeps rates near the identity
    instead of the noise of its few. A species with no held-out images (and no prior) gets the identity row: its
    identifications are taken as they are."""
    counts = np.asarray(counts, float) + prior * np.eye(len(counts))
    totals = counts.sum(1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    empty = totals[:, 0] == 0
    rates[empty, empty.nonzero()[0]] = 1.0
    return rates


def adjusted_proportions(observed: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The true shares p that best explain the `observed` shares of identifications, q = ratesᵀ p, with p >= 0 and
    sum(p) = 1 (module docstring). Where `rates` is the identity, p = q."""
    observed, rates = np.asarray(observed, float), np.asarray(rates, float)
    total = observed.sum()
    if total <= 0:
        return np.zeros_like(observed)
    a = np.vstack([rates.T, SIMPLEX_WEIGHT * np.ones(len(observed))])
    b = np.concatenate([observed / total, [SIMPLEX_WEIGHT]])
    p, _ = nnls(a, b, maxiter=50 * len(observed))
    return p / p.sum() if p.sum() > 0 else observed / total


def adjusted_interval(counts: np.ndarray, confusion: np.ndarray, draws: int = 200, level: float = 0.95,
                      seed: int = 0, prior: float = CONFUSION_PRIOR) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the adjusted proportions over a parametric bootstrap: the sample's counts redrawn
    (multinomial) and each row of the confusion counts redrawn, so both the sampling and the confusion's own
    estimate spread it."""
    counts, confusion = np.asarray(counts, np.int64), np.asarray(confusion, np.int64)
    rng, n = np.random.default_rng(seed), int(counts.sum())
    if n == 0:
        return np.zeros(len(counts)), np.zeros(len(counts))
    row_totals = confusion.sum(1)
    row_shares = np.divide(confusion, row_totals[:, None], out=np.zeros(confusion.shape), where=row_totals[:, None] > 0)
    values = np.empty((draws, len(counts)))
    for d in range(draws):
        redrawn = np.array([rng.multinomial(t, s) if t else np.zeros(len(s), np.int64)
                            for t, s in zip(row_totals, row_shares)])
        values[d] = adjusted_proportions(rng.multinomial(n, counts / n), confusion_rates(redrawn, prior))
    tail = (1 - level) / 2 * 100
    return np.percentile(values, tail, axis=0), np.percentile(values, 100 - tail, axis=0)
