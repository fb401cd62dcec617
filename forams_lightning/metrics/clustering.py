"""Clustering of embeddings without labels, and its scoring against the true species. Pure functions."""

from __future__ import annotations

import faiss
import numpy as np
from scipy.cluster import hierarchy
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import pdist

from forams_lightning.metrics.vectors import prepared


def hungarian_match(y_true: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """The species each sample's cluster is matched to, one-to-one with maximum total overlap (species labels are
    non-negative integers); samples in clusters left unmatched get -1, so they count as errors."""
    species, y = np.unique(y_true, return_inverse=True)
    ids, c = np.unique(clusters, return_inverse=True)
    overlap = np.zeros((len(species), len(ids)), dtype=np.int64)
    np.add.at(overlap, (y, c), 1)
    rows, cols = linear_sum_assignment(-overlap)
    cluster_to_species = np.full(len(ids), -1)
    cluster_to_species[cols] = species[rows]
    return cluster_to_species[c]


def cluster_scores(y_true: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """Hungarian-matched accuracy and macro F1 (over the true species), NMI, ARI, number of clusters."""
    # sklearn on first use: the live review groups specimens with this module and never scores them
    from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score

    matched = hungarian_match(y_true, clusters)
    return {
        "acc": float(np.mean(matched == y_true)),
        "macro_f1": float(f1_score(y_true, matched, labels=np.unique(y_true), average="macro", zero_division=0)),
        "nmi": float(normalized_mutual_info_score(y_true, clusters)),
        "ari": float(adjusted_rand_score(y_true, clusters)),
        "k": float(len(np.unique(clusters))),
    }


def kmeans(embeddings: np.ndarray, k: int, seed: int = 0, metric: str = "cosine") -> np.ndarray:
    """FAISS k-means cluster of every embedding (spherical k-means on unit vectors for the cosine metric).

    Args:
        embeddings: the items.
        k: the number of clusters.
        seed: of the initialisation.
        metric: ``cosine`` (spherical) or ``l2``.
    """
    x = prepared(embeddings, metric)
    # FAISS seeds k-means with random points, not k-means++: 10 restarts avoid the merged-species local minima
    # seen with fewer on small sets.
    km = faiss.Kmeans(x.shape[1], k, niter=50, nredo=10, seed=seed, spherical=metric == "cosine", verbose=False,
                      min_points_per_centroid=1)
    km.train(x)
    return km.index.search(x, 1)[1][:, 0]


LINKAGES = ("ward", "average", "complete")
MAX_CALIBRATION_ITEMS = 2000  # larger calibration sets are drawn down to this many items (cost of the full tree)


def agglomerative(embeddings: np.ndarray, threshold: float, metric: str = "cosine",
                  linkage: str = "ward") -> np.ndarray:
    """Hierarchical clusters cut at a distance threshold: the number of clusters is estimated, not given.

    ``ward`` merges on the Euclidean geometry of the vectors (unit vectors for the cosine metric); ``average`` and
    ``complete`` link on the metric's distance. Cluster ids from 0.

    Args:
        embeddings: the items.
        threshold: the distance the tree is cut at.
        metric: ``cosine`` or ``l2``.
        linkage: ``ward``, ``average`` or ``complete``.
    """
    return hierarchy.fcluster(_tree(prepared(embeddings, metric), metric, linkage)[0], threshold, "distance") - 1


def agglomerative_k(embeddings: np.ndarray, k: int, metric: str = "cosine", linkage: str = "ward") -> np.ndarray:
    """Hierarchical clusters: the tree (as `agglomerative`'s) cut into `k` clusters. Cluster ids from 0.

    Args:
        embeddings: the items.
        k: the number of clusters.
        metric: ``cosine`` or ``l2``.
        linkage: ``ward``, ``average`` or ``complete``.
    """
    return hierarchy.fcluster(_tree(prepared(embeddings, metric), metric, linkage)[0], k, "maxclust") - 1


def drawn_count(embeddings: np.ndarray, threshold: float, share: float, draws: int, *, seed: int = 0,
                metric: str = "cosine", linkage: str = "ward") -> float:
    """The mean number of clusters that the cut at `threshold` leaves on `draws` seeded draws of `share` of the
    items: the count on sets whose species hold that share of their images (each species keeps about that share).

    Args:
        embeddings: the items.
        threshold: the cut.
        share: the share of the items each draw keeps.
        draws: the number of draws.
        seed: of the draws.
        metric: ``cosine`` or ``l2``.
        linkage: ``ward``, ``average`` or ``complete``.
    """
    x, rng = prepared(embeddings, metric), np.random.default_rng(seed)
    size = max(2, round(share * len(x)))
    # a cut leaves one cluster more than the merges above it (fcluster's "distance" criterion)
    return float(np.mean([1 + np.sum(_tree(x[rng.permutation(len(x))[:size]], metric, linkage)[0][:, 2] > threshold)
                          for _ in range(draws)]))


def calibrate_threshold(embeddings: np.ndarray, labels: np.ndarray, metric: str = "cosine",
                        linkage: str = "ward", *, max_items: int = MAX_CALIBRATION_ITEMS, seed: int = 0) -> float:
    """The cut at which the agglomerative clustering of a labelled set finds as many clusters as it has species.

    Calibrated on labelled species (validation species, or the known gallery), then applied to species never seen:
    the cut transfers where species have a similar spread. (Maximising ARI instead over-splits unseen species ~2×.)
    Larger sets are cut down to about `max_items` by drawing whole species (seeded), so species sizes keep their
    distribution and the clustering stays cheap.

    Args:
        embeddings: the labelled set.
        labels: its species.
        metric: ``cosine`` or ``l2``.
        linkage: ``ward``, ``average`` or ``complete``.
        max_items: larger sets are drawn down to about this many items.
        seed: of that draw.
    """
    x, labels = drawn_species(prepared(embeddings, metric), np.asarray(labels), max_items, seed)
    target = len(np.unique(labels))
    # One full tree: a cut t leaves 1 + #{merge heights >= t} clusters (the heights of these linkages rise merge by
    # merge), so the cuts that leave `target` clusters lie between two sorted heights; take the middle (a height
    # itself is where rounding decides).
    heights = np.sort(_tree(x, metric, linkage)[0][:, 2])
    if target <= 1:
        return float(np.nextafter(heights[-1], np.inf))
    above = heights[len(heights) - target + 1]  # the lowest merge that must stay undone
    below = heights[len(heights) - target] if target <= len(heights) else 0.0  # the highest that must happen
    return float((below + above) / 2)


def tree(embeddings: np.ndarray, metric: str = "cosine", linkage: str = "ward") -> tuple[np.ndarray, np.ndarray]:
    """SciPy linkage matrix of the hierarchical tree of `embeddings` (as `agglomerative` builds it), and the
    condensed distances it was built on."""
    return _tree(prepared(embeddings, metric), metric, linkage)


def _tree(x: np.ndarray, metric: str, linkage: str) -> tuple[np.ndarray, np.ndarray]:
    """`tree` of prepared rows."""
    if linkage not in LINKAGES:
        raise ValueError(f"clustering linkage must be one of {LINKAGES} (got {linkage!r})")
    condensed = pdist(x, "euclidean" if linkage == "ward" or metric == "l2" else "cosine").clip(0)
    return hierarchy.linkage(condensed, linkage), condensed


def drawn_species(x: np.ndarray, labels: np.ndarray, max_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A set larger than `max_items` drawn down to about that many items by whole species (seeded), so species sizes
    keep their distribution.

    Args:
        x: the items.
        labels: their species.
        max_items: about how many items to keep.
        seed: of the draw.
    """
    if len(x) <= max_items:
        return x, labels
    species = np.random.default_rng(seed).permutation(np.unique(labels))
    sizes = np.array([np.sum(labels == s) for s in species])
    chosen = np.isin(labels, species[: max(2, int(np.searchsorted(np.cumsum(sizes), max_items)))])
    return x[chosen], labels[chosen]
