"""Bayesian classify-and-count: a sample's true class shares from its counted identifications and the classifier's
confusion on labelled held-out cases, with credible intervals that carry both the sample's own noise and the
uncertainty of the confusion. Pure functions.

The model is the one of Ziegler & Czyż ("Bayesian quantification with black-box estimators", TMLR 2024; QuaPy's
`BayesianCC`): true shares p ~ Dirichlet(alpha), each true class's outcome rates R[i] ~ Dirichlet(prior[i]), the
held-out counts C[i] ~ Multinomial(R[i]) and the sample's outcome counts y ~ Multinomial(Rᵀp). It is sampled here by
Gibbs steps with the true class of every counted specimen as the latent variable (Gelfand-Smith data augmentation),
so the sample's own specimens inform the rates too; QuaPy samples the same posterior by NUTS (needs jax)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Posterior:
    """Draws of the true shares (rows: draws, columns: classes) and what a census reports of them."""

    draws: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.draws.mean(0)

    @property
    def median(self) -> np.ndarray:
        """The point a census reports: an absent class's share is ~0 here, where its mean keeps the prior's
        pseudo count (on 100-specimen samples of 12 of 35 species the mean's absolute error was 12% above the
        median's)."""
        return np.median(self.draws, 0)

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Equal-tailed credible interval of each share."""
        tail = (1 - level) / 2
        return np.quantile(self.draws, tail, axis=0), np.quantile(self.draws, 1 - tail, axis=0)


def bayesian_shares(counts: np.ndarray, confusion: np.ndarray, rate_prior: np.ndarray | float = 1.0,
                    share_prior: np.ndarray | float = 1.0, *, fixed: np.ndarray | None = None, draws: int = 1000,
                    burn_in: int = 300, seed: int = 0, chains: int = 4) -> Posterior:
    """Posterior of the true shares of L classes given `counts` (K outcomes counted in the sample) and `confusion`
    (L × K: labelled held-out cases of each class, by outcome). `rate_prior` (L × K or a number) and `share_prior`
    (L or a number) are the Dirichlet pseudo counts; rows where `fixed` is true take their rates as given by the
    normalised `confusion` row (an outcome a class always has), never redrawn. `draws` in all, from `chains`
    chains run side by side from over-dispersed starts (data augmentation mixes slowly where classes trade
    specimens; independent chains cover the posterior's tails better than one long one). Deterministic for a
    seed.

    Args:
        counts: the sample's counts of each outcome (K).
        confusion: labelled held-out cases of each class by outcome (L × K).
        rate_prior: the Dirichlet pseudo counts of the rates (L × K or a number).
        share_prior: those of the shares (L or a number).
        fixed: classes whose rates are taken as given.
        draws: posterior draws in all.
        burn_in: draws left out at the start of each chain.
        seed: of the sampler.
        chains: chains run side by side.
    """
    counts, confusion = np.asarray(counts, np.int64), np.asarray(confusion, float)
    n_classes = len(confusion)
    rate_prior = np.broadcast_to(np.asarray(rate_prior, float), confusion.shape)
    counts, confusion, rate_prior = _unseen_outcomes_merged(counts, confusion, rate_prior)
    share_prior = np.broadcast_to(np.asarray(share_prior, float), (n_classes,))
    fixed = np.zeros(n_classes, bool) if fixed is None else np.asarray(fixed, bool)
    rng = np.random.default_rng(seed)
    fixed_rates = _normalised(confusion[fixed])
    rates = np.broadcast_to(_normalised(confusion + rate_prior), (chains, *confusion.shape)).copy()
    shares = _dirichlet(rng, np.ones((chains, n_classes)))
    per_chain = -(-draws // chains)
    kept = np.empty((per_chain, chains, n_classes))
    whole = np.broadcast_to(counts, (chains, len(counts)))
    for step in range(burn_in + per_chain):
        latent = _allocate(rng, whole, shares, rates)  # latent[c, i, j]: counted as j, truly i
        shares = _dirichlet(rng, share_prior + latent.sum(2))
        rates = _dirichlet(rng, rate_prior + confusion + latent)
        rates[:, fixed] = fixed_rates
        if step >= burn_in:
            kept[step - burn_in] = shares
    return Posterior(kept.transpose(1, 0, 2).reshape(-1, n_classes)[:draws])


def _unseen_outcomes_merged(counts: np.ndarray, confusion: np.ndarray,
                            rate_prior: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outcomes the sample never shows merged into one column: exact (a Dirichlet's merged categories are the
    Dirichlet of the summed pseudo counts, and the sample's likelihood sees only their total rate), and it keeps the
    sampler's cost with the few outcomes a sample shows, not the library's size (161 radiolarian species: 10× less)."""
    unseen = counts == 0
    if unseen.sum() < 2:
        return counts, confusion, rate_prior

    def merged(matrix: np.ndarray) -> np.ndarray:
        return np.column_stack([matrix[:, ~unseen], matrix[:, unseen].sum(1)])

    return np.append(counts[~unseen], 0), merged(confusion), merged(rate_prior)


def _allocate(rng: np.random.Generator, counts: np.ndarray, shares: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The counted specimens of each outcome shared among the true classes by their posterior probability (one
    chain a leading axis)."""
    joint = shares[:, :, None] * rates
    column = joint.sum(1, keepdims=True)
    probabilities = np.divide(joint, column, out=np.full_like(joint, 1 / joint.shape[1]), where=column > 0)
    return rng.multinomial(counts, probabilities.transpose(0, 2, 1)).transpose(0, 2, 1)


def _dirichlet(rng: np.random.Generator, concentration: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row of `concentration` (a vector: one draw)."""
    gamma = rng.standard_gamma(np.maximum(concentration, 1e-12))
    total = gamma.sum(-1, keepdims=True)
    return np.divide(gamma, total, out=np.full_like(gamma, 1 / gamma.shape[-1]), where=total > 0)


def _normalised(rows: np.ndarray) -> np.ndarray:
    total = rows.sum(-1, keepdims=True)
    return np.divide(rows, total, out=np.full_like(rows, 1 / max(rows.shape[-1], 1)), where=total > 0)
