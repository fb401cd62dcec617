"""Clustering species never seen in training when their number is unknown: the hierarchical tree cut at the distance
where labelled calibration species split into as many clusters as they have species."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forams_lightning.metrics.clustering import (
    LINKAGES,
    MAX_CALIBRATION_ITEMS,
    agglomerative,
    agglomerative_k,
    calibrate_threshold,
    drawn_count,
)

# draws of the unseen set where `match_sizes`: one draw's count varies by ~5% (sd 2.7-3.1 clusters for 56-57
# species on the radiolaria folds), their mean of 5 by ~2%
UNSEEN_DRAWS = 5

Labelled = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class SpeciesCount:
    """`linkage`: ``ward``, ``average`` or ``complete`` (the tree). The cut is the mean of the calibration sets'
    cuts; `calibration_draws` > 0 calibrates each set on that many seeded draws of whole species as large as the
    unseen set in images (species crowd a larger set more, and a cut calibrated there over-splits a smaller one).

    `match_sizes` (for calibration sets that hold only part of their species' images, the whitening's cross-fitted
    training species): the unseen species are counted on `UNSEEN_DRAWS` seeded draws of the unseen images at the
    sets' share of their species' images, the cut calibrated at that size, and the whole set cut into the mean
    count. Whole, unseen species split more than the calibration sets' partial ones
    (`experiments/open_set_radiolaria/`, "The number of species")."""

    linkage: str = "ward"
    calibration_draws: int = 0
    match_sizes: bool = False

    def __post_init__(self) -> None:
        if self.linkage not in LINKAGES:
            raise ValueError(f"clustering linkage must be one of {LINKAGES} (got {self.linkage!r})")
        if isinstance(self.calibration_draws, bool) or self.calibration_draws < 0:
            raise ValueError(f"clustering calibration_draws must be >= 0 (got {self.calibration_draws!r})")

    def draw_size(self, unseen: int) -> int:
        """The size, in images, that calibration sets are drawn down to (by whole species)."""
        return min(unseen, MAX_CALIBRATION_ITEMS) if self.calibration_draws else MAX_CALIBRATION_ITEMS

    def draws(self, sets: list[Labelled], unseen: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
        """(embeddings, labels, seed) of every calibration draw: `calibration_draws` of a set larger than the draw
        size, else the set once."""
        size = self.draw_size(unseen)
        return [(x, y, seed + d) for x, y in sets
                for d in range(max(1, self.calibration_draws) if len(x) > size else 1)]

    def threshold(self, sets: list[Labelled], unseen: int, metric: str, seed: int) -> float:
        """The calibrated cut: the mean over the draws of the cut that splits each into its number of species.

        Args:
            sets: labelled calibration sets, (embeddings, labels) each.
            unseen: the number of unseen images the cut will be applied to (draws are matched to it).
            metric: ``cosine`` or ``l2``.
            seed: of the draws.
        """
        size = self.draw_size(unseen)
        return float(np.mean([calibrate_threshold(x, y, metric, self.linkage, max_items=size, seed=s)
                              for x, y, s in self.draws(sets, unseen, seed)]))

    def clusters(self, embeddings: np.ndarray, sets: list[Labelled], share: float | None, metric: str,
                 *, seed: int) -> tuple[np.ndarray, dict[str, float]]:
        """Cluster ids of the unseen `embeddings` and the values logged beside them (``threshold``, ``share``).
        `share`: count the species on draws of that share of the images (None: cut the whole set).

        Args:
            embeddings: the unseen images.
            sets: the labelled calibration sets.
            share: the share of its species' images each set holds (None: cut the whole set).
            metric: ``cosine`` or ``l2``.
            seed: of the draws.
        """
        unseen = len(embeddings) if share is None else max(2, round(share * len(embeddings)))
        threshold = self.threshold(sets, unseen, metric, seed)
        clusters = cut(embeddings, threshold, share, metric, linkage=self.linkage, seed=seed)
        return clusters, {"threshold": threshold, **({} if share is None else {"share": share})}


def cut(embeddings: np.ndarray, threshold: float, share: float | None, metric: str, *, linkage: str,
        seed: int) -> np.ndarray:
    """Cluster ids of `embeddings`: the tree cut at `threshold`, or, with a `share`, cut into the mean number of
    clusters that `threshold` leaves on `UNSEEN_DRAWS` seeded draws of that share of them.

    Args:
        embeddings: the items to cluster.
        threshold: the tree's cut.
        share: count the clusters on draws of that share of the items (None: cut at `threshold`).
        metric: ``cosine`` or ``l2``.
        linkage: the tree's linkage.
        seed: of the draws.
    """
    if share is None:
        return agglomerative(embeddings, threshold, metric, linkage)
    drawn = drawn_count(embeddings, threshold, share, UNSEEN_DRAWS, seed=seed, metric=metric, linkage=linkage)
    k = max(1, round(drawn))
    return agglomerative_k(embeddings, min(k, len(embeddings)), metric, linkage)
