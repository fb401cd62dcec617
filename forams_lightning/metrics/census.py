"""Counting a sample species by species: raw proportions with their sampling interval, and the true shares the
identifications imply once the library's confusion is undone, with credible intervals. Pure functions.

Identification has one more outcome than the species: *flagged novel*. A census that dropped the flagged specimens
under-counted every species with many flags (few references); here a flag is an outcome of identification like the
species votes, each species' rate of being flagged is part of its confusion (held-out images), and the sample's
flagged specimens are shared between the known species (by those rates) and an *unexplained* class (specimens no
known species accounts for: candidate new species), which is always flagged. The shares are estimated by Bayesian
classify-and-count (`metrics.quantification`) with weakly informative priors: each species' confusion row draws
`RATE_PRIOR` pseudo counts from the pooled rates (a species with two held-out images keeps mostly the library's
typical accuracy, not the noise of its two), and the shares `SHARE_PRIOR` each (a small value: most species of a
large library are absent from a sample, and their intervals must reach 0)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from forams_lightning.metrics.quantification import Posterior, bayesian_shares

RATE_PRIOR = 20.0  # pseudo counts of each species' confusion row drawn from the pooled rates (experiments/census)
SHARE_PRIOR = 0.1  # Dirichlet pseudo count of each class's share of a sample (experiments/census)
DRAWS, BURN_IN = 2000, 500  # Gibbs draws kept (four chains) and discarded a chain: 0.1-0.3 s a sample of 300


def wilson_interval(count: np.ndarray, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of the proportion count / n (binomial sampling of the specimens counted; it says
    nothing of identification errors). Both bounds 0 where n is 0."""
    count = np.asarray(count, float)
    if n <= 0:
        return np.zeros_like(count), np.zeros_like(count)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def outcome_confusion(confusion: np.ndarray, flagged: np.ndarray | None) -> np.ndarray:
    """The (species + 1) × (species + 1) confusion counts of the census model: rows the true species and last the
    unexplained class, columns the species voted and last *flagged novel*. The unexplained row is one flag (its
    rates are fixed, `census_shares`); a species without flag counts (a library exported before they were kept)
    has none."""
    n = len(confusion)
    counts = np.zeros((n + 1, n + 1), np.int64)
    counts[:n, :n] = confusion
    counts[:n, n] = 0 if flagged is None else flagged
    counts[n, n] = 1
    return counts


def pooled_rate_prior(counts: np.ndarray, strength: float | None = None) -> np.ndarray:
    """Dirichlet pseudo counts of each species' row: `strength` spread as the pooled held-out images are (the
    share identified correctly on the diagonal, the share flagged in the last column, the rest evenly over the
    other species)."""
    n = len(counts) - 1
    known = counts[:n]
    total = max(known.sum(), 1)
    correct, flagged = np.trace(known[:, :n]) / total, known[:, n].sum() / total
    if not known.sum():
        correct, flagged = 1.0, 0.0
    prior = np.full(counts.shape, (1 - correct - flagged) / max(n - 1, 1))
    np.fill_diagonal(prior, correct)
    prior[:, n] = flagged
    return (RATE_PRIOR if strength is None else strength) * prior


def census_shares(counts: np.ndarray, flagged: int, confusion: np.ndarray, confusion_flagged: np.ndarray | None,
                  *, seed: int = 0) -> Posterior:
    """Posterior of a sample's true shares of every species and, last, of the unexplained class, from its
    identified `counts` per species and its number of `flagged` specimens (module docstring).

    Args:
        counts: the sample's identified specimens of each species.
        flagged: its specimens flagged novel.
        confusion: held-out images of each species (rows) identified as each (columns).
        confusion_flagged: held-out images of each species flagged novel, or None.
        seed: of the sampler.
    """
    outcomes = outcome_confusion(np.asarray(confusion), confusion_flagged)
    fixed = np.zeros(len(outcomes), bool)
    fixed[-1] = True
    return bayesian_shares(np.append(np.asarray(counts), flagged), outcomes, pooled_rate_prior(outcomes), SHARE_PRIOR,
                           fixed=fixed, draws=DRAWS, burn_in=BURN_IN, seed=seed)
