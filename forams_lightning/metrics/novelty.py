"""Novelty detection: is a query of a species in the gallery at all? Score = distance to the nearest gallery items,
optionally measured in units of each gallery item's local spread. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forams_lightning.metrics.knn import knn_search
from forams_lightning.metrics.neighbour_table import BLOCK_CELLS, nearest_of, pairwise_distances
from forams_lightning.metrics.vectors import prepared


@dataclass(frozen=True)
class NoveltyScore:
    """The novelty score of a query: the mean distance to its `neighbours` nearest gallery items, each distance in
    units of the item's local spread (its mean distance to its `scale_k` nearest) where `scale_k` > 0."""

    neighbours: int = 1
    scale_k: int = 0

    def __post_init__(self) -> None:
        for key, least in (("neighbours", 1), ("scale_k", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"novelty.{key} must be a whole number >= {least} (got {value!r})")

    def spread(self, gallery: np.ndarray, metric: str) -> np.ndarray | None:
        """What `distances` needs of the gallery alone (compute it once for many queries); None without scaling."""
        return local_spread(gallery, self.scale_k, metric) if self.scale_k else None

    def distances(self, gallery: np.ndarray, queries: np.ndarray, metric: str,
                  spread: np.ndarray | None = None) -> np.ndarray:
        """The score of each query (higher = more novel); `spread` from `spread` to reuse it.

        Args:
            gallery: the references.
            queries: the specimens.
            metric: ``cosine`` or ``l2``.
            spread: the references' spreads (`spread`), to reuse them.
        """
        return novelty_distance(gallery, queries, metric, self.neighbours, scale_k=self.scale_k, spread=spread)


def local_spread(gallery: np.ndarray, k: int, metric: str = "cosine") -> np.ndarray:
    """Each gallery item's mean distance to its `k` nearest other items; items with no spread (all their neighbours
    duplicates) get the smallest positive one, so a distance divided by it is finite."""
    return floored_spread(knn_search(gallery, gallery, k + 1, metric)[0][:, 1:].mean(1))


def floored_spread(spread: np.ndarray) -> np.ndarray:
    """`spread` with every zero raised to the smallest positive one (1 where none is positive)."""
    positive = spread[spread > 0]
    return np.maximum(spread, positive.min() if len(positive) else 1.0)


def novelty_distance(gallery: np.ndarray, queries: np.ndarray, metric: str = "cosine", neighbours: int = 1,
                     *, scale_k: int = 0, spread: np.ndarray | None = None) -> np.ndarray:
    """Novelty score of each query (higher = more novel): the mean distance to its `neighbours` nearest gallery items.

    `scale_k` > 0 divides each distance d(q, g) by g's `local_spread` over its `scale_k` nearest (pass `spread` to
    reuse it): a density-normalised distance, as in the local outlier factor; a query as far from a tight species as
    from a loose one is more novel next to the tight one. Exact, FAISS.

    Args:
        gallery: the references.
        queries: the specimens.
        metric: ``cosine`` or ``l2``.
        neighbours: how many nearest references are averaged.
        scale_k: 0, or the neighbours of each reference its spread is measured over.
        spread: every reference's spread, to reuse it.
    """
    if not scale_k:
        return knn_search(gallery, queries, neighbours, metric)[0].mean(1)
    spread = local_spread(gallery, scale_k, metric) if spread is None else spread
    # the nearest in scaled distance need not be the nearest in plain distance: every gallery item is scaled, in
    # blocks of queries, and only the `neighbours` smallest are selected (no full sort)
    gallery, queries = prepared(gallery, metric), prepared(queries, metric)
    step = max(1, BLOCK_CELLS // max(len(gallery), 1))
    scores = [nearest_of(pairwise_distances(queries[s:s + step], gallery, metric) / spread,
                                 min(neighbours, len(gallery)))[0].mean(1)
              for s in range(0, len(queries), step)]
    return np.concatenate(scores) if scores else np.zeros(0, np.float32)


def novelty_scores(known_scores: np.ndarray, unknown_scores: np.ndarray, known_correct: np.ndarray,
                   keep: float = 0.95) -> dict[str, float]:
    """Known-vs-unknown separation of novelty scores (higher = more novel).

    - auroc: ranking quality of unknown above known queries;
    - oscr: area under the open-set classification rate curve (correct *and* accepted known queries against the
      share of unknown queries accepted, over all thresholds);
    - threshold: the score that keeps `keep` of the known queries; acc_at_keep (closed-set accuracy among the kept
      known queries) and unknown_rejected at that threshold.

    Args:
        known_scores: the novelty scores of queries of known species.
        unknown_scores: those of queries of unseen species.
        known_correct: whether each known query was identified right.
        keep: the share of known queries the threshold keeps.
    """
    known_scores, unknown_scores = np.asarray(known_scores, float), np.asarray(unknown_scores, float)
    known_correct = np.asarray(known_correct, bool)
    y = np.r_[np.zeros(len(known_scores)), np.ones(len(unknown_scores))]
    from sklearn.metrics import roc_auc_score  # on first use: the live review's start-up imports this module

    auroc = roc_auc_score(y, np.r_[known_scores, unknown_scores])
    threshold = float(np.quantile(known_scores, keep))
    kept = known_scores <= threshold
    return {
        "auroc": float(auroc),
        "oscr": oscr(known_scores, unknown_scores, known_correct),
        "threshold": threshold,
        "acc_at_keep": float(known_correct[kept].mean()) if kept.any() else 0.0,
        "unknown_rejected": float(np.mean(unknown_scores > threshold)),
    }


def oscr(known_scores: np.ndarray, unknown_scores: np.ndarray, known_correct: np.ndarray) -> float:
    """Area under CCR(FPR): accept a query when its score <= t, sweep t over all observed scores."""
    thresholds = np.unique(np.r_[known_scores, unknown_scores, -np.inf])
    ccr = np.searchsorted(np.sort(known_scores[known_correct]), thresholds, side="right") / len(known_scores)
    fpr = np.searchsorted(np.sort(unknown_scores), thresholds, side="right") / len(unknown_scores)
    return float(np.trapezoid(ccr, fpr))
