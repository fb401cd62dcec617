"""The best-silhouette estimate of the number of unseen species, measured and not adopted (README, "The number of
species"): the tree cut into the count with the largest mean silhouette, divided by the factor by which that count
over-splits the calibration species. Kept here to reproduce its rows (`rescore.py RUN k_estimate=silhouette`)."""

from __future__ import annotations

import numpy as np
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from sklearn.metrics import silhouette_score

from forams_lightning.metrics.clustering import cluster_scores, drawn_species, tree
from forams_lightning.metrics.vectors import prepared

GRID = 60  # numbers of clusters tried, log-spaced from 2 to half the items


def silhouette_k(embeddings: np.ndarray, metric: str = "cosine", linkage: str = "average", grid: int = GRID) -> int:
    """The number of clusters, among `grid` log-spaced counts from 2 to half the items, at which the cut of the
    hierarchical tree has the largest mean silhouette (on the linkage's distance)."""
    return _best_k(*tree(embeddings, metric, linkage), grid)


def silhouette_clusters(embeddings: np.ndarray, over_count: float, metric: str = "cosine",
                        linkage: str = "average", grid: int = GRID) -> np.ndarray:
    """The tree cut into `silhouette_k` / `over_count` clusters (one tree). Cluster ids from 0."""
    linkage_matrix, condensed = tree(embeddings, metric, linkage)
    k = max(1, round(_best_k(linkage_matrix, condensed, grid) / over_count))
    return hierarchy.fcluster(linkage_matrix, k, "maxclust") - 1


def calibrate_silhouette(embeddings: np.ndarray, labels: np.ndarray, metric: str = "cosine",
                         linkage: str = "average", max_items: int = 2000, seed: int = 0) -> float:
    """`silhouette_k` of a labelled set over its number of species (drawn down by whole species as the cut's
    calibration is): the factor to divide an unlabelled set's `silhouette_k` by."""
    x, labels = drawn_species(prepared(embeddings, metric), np.asarray(labels), max_items, seed)
    return silhouette_k(x, metric, linkage) / len(np.unique(labels))


def silhouette_scores(protocol, parts: dict, calibration) -> dict[str, float]:
    """The ``open/agglo_*`` scores of an `OpenSetProtocol` with the silhouette estimate in place of the calibrated
    cut, on the same (expanded) unseen set and calibration draws."""
    raw, labels = parts["unknown_test"]
    emb, rerank, count = protocol.reranking.expand(raw), protocol.reranking, protocol.species_count
    sets = [(rerank.expand(x), y) for x, y in protocol.calibration_sets(parts, calibration)]
    size = count.draw_size(len(emb))
    ratio = float(np.exp(np.mean([np.log(calibrate_silhouette(x, y, protocol.metric, count.linkage, size, seed))
                                  for x, y, seed in count.draws(sets, len(emb), protocol.seed)])))
    clusters = silhouette_clusters(emb, ratio, protocol.metric, count.linkage)
    return {"open/agglo_silhouette_ratio": ratio,
            **{f"open/agglo_{k}": v for k, v in cluster_scores(labels, clusters).items()}}


def _best_k(linkage_matrix: np.ndarray, condensed: np.ndarray, grid: int) -> int:
    distances = squareform(condensed)
    n = len(distances)
    best, best_k = -np.inf, 1
    for k in np.unique(np.geomspace(2, max(2, n // 2), grid).round().astype(int)):
        clusters = hierarchy.fcluster(linkage_matrix, k, "maxclust")
        found = len(np.unique(clusters))
        if 1 < found < n:
            score = silhouette_score(distances, clusters, metric="precomputed")
            if score > best:
                best, best_k = score, found
    return best_k
