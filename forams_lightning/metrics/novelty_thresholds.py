"""Novelty thresholds that hold for every species, not only for the pool of held-out images. Pure functions.

One pooled threshold keeps 95% of the held-out images, most of them of the common species; a species with few
references sits in a sparse part of the gallery, its specimens score higher, and far more than 5% of them were
flagged. Here each species gets its own threshold from an empirical-Bayes model of the log novelty scores: a
species' typical log score is predicted from how sparse its references are (`reference_sparsity`: the mean log
distance of its references to their nearest other reference, a line fitted across species; on the embedded library
it explains 0.84 of the correlation where the number of references explains 0.63), the prediction is shrunk toward
the species' own held-out mean by how many held-out images it has (a species with one or two keeps mostly the
prediction), and the threshold is the predictive quantile: the left-out standardised residuals of all held-out
images give the quantile that keeps `keep` of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TINY = 1e-6  # scores are distances: 0 for a duplicate of a reference


@dataclass(frozen=True)
class ThresholdModel:
    """A species' log-score centre is `intercept + slope * sparsity` (`reference_sparsity`) before its own held-out
    images are seen; `spread` the standard deviation of a new image's log score about it; `z` the quantile (in
    spreads) a threshold sits at. Kept in the manifest: a later species gets its threshold from its references."""

    intercept: float
    slope: float
    spread: float
    z: float

    def threshold(self, sparsity: float) -> float:
        return float(np.exp(self.intercept + self.slope * sparsity + self.z * self.spread))

    def state(self) -> dict:
        return {"intercept": self.intercept, "slope": self.slope, "spread": self.spread, "z": self.z}


def reference_sparsity(distances: np.ndarray, labels: np.ndarray, n_species: int) -> np.ndarray:
    """Each species' mean log distance from its references to their nearest other reference (`distances`: that
    distance of every reference); the mean over species for a species without references."""
    logs = np.log(np.maximum(np.asarray(distances, float), TINY))
    n = np.bincount(labels, minlength=n_species)
    sums = np.bincount(labels, weights=logs, minlength=n_species)
    mean = sums[n > 0].sum() / n.sum() if n.sum() else 0.0
    return np.where(n > 0, sums / np.maximum(n, 1), mean)


def species_thresholds(scores: np.ndarray, labels: np.ndarray, sparsity: np.ndarray,
                       keep: float = 0.95) -> tuple[np.ndarray, ThresholdModel]:
    """The threshold of each species (index = label; `sparsity[s]`: `reference_sparsity`) from the novelty `scores`
    of held-out images of those species, and the model that gives a species without held-out images its
    threshold.

    Args:
        scores: novelty scores of held-out images of known species.
        labels: their species.
        sparsity: every species' `reference_sparsity`.
        keep: the share of each species' images its threshold keeps.
    """
    x, labels = np.log(np.maximum(np.asarray(scores, float), TINY)), np.asarray(labels)
    sparsity = np.asarray(sparsity, float)
    n = np.bincount(labels, minlength=len(sparsity)).astype(float)
    seen = n > 0
    sums = np.bincount(labels, weights=x, minlength=len(sparsity))
    means = sums[seen] / n[seen]
    within = _within_variance(x, labels, means, seen)
    intercept, slope, between = _centre_line(means, sparsity[seen], n[seen], within)
    prior = intercept + slope * sparsity
    posterior_var = 1 / (n / within + 1 / between)
    centre = posterior_var * (sums / within + prior / between)
    spread = np.sqrt(within + posterior_var)
    z = float(np.quantile(_left_out_residuals(x, labels, n, prior, within=within, between=between), keep))
    model = ThresholdModel(float(intercept), float(slope), float(np.sqrt(within + between)), z)
    return np.exp(centre + z * spread), model


def _left_out_residuals(x: np.ndarray, labels: np.ndarray, n: np.ndarray, prior: np.ndarray, *, within: float,
                        between: float) -> np.ndarray:
    """Each held-out image's standardised residual about its species' predictive centre computed without it: the
    quantile of these is what a new image of the species meets (in-sample residuals are shrunk by the image's own
    pull on its centre)."""
    sums = np.bincount(labels, weights=x, minlength=len(n))[labels] - x
    variance = 1 / ((n[labels] - 1) / within + 1 / between)
    centre = variance * (sums / within + prior[labels] / between)
    return (x - centre) / np.sqrt(within + variance)


def _within_variance(x: np.ndarray, labels: np.ndarray, means: np.ndarray, seen: np.ndarray) -> float:
    """Pooled within-species variance of the log scores (the overall variance where no species has two images)."""
    full = np.zeros(len(seen))
    full[seen] = means
    centred = x - full[labels]
    freedom = len(x) - seen.sum()
    return float(max(centred @ centred / freedom if freedom > 0 else np.var(x), 1e-6))


def _centre_line(means: np.ndarray, sparsity: np.ndarray, n: np.ndarray, within: float) -> tuple[float, float, float]:
    """Weighted least-squares line of the species' mean log score on their sparsity, and the variance of the
    species' true centres about it (method of moments, net of the means' own noise; at least 1% of the
    within-species variance). A flat line through the pooled mean where fewer than three species vary."""
    w = n / n.sum()
    if len(means) >= 3 and np.ptp(sparsity) > 0:
        design = np.stack([np.ones_like(sparsity), sparsity], 1)
        root = np.sqrt(w)[:, None]
        (intercept, slope), *_ = np.linalg.lstsq(design * root, means * root[:, 0], rcond=None)
    else:
        intercept, slope = float(w @ means), 0.0
    residual = means - intercept - slope * sparsity
    between = float(w @ residual ** 2 - w @ (within / n))
    return float(intercept), float(slope), max(between, 0.01 * within)
